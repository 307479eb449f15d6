"""The demo catalogue (演示事项目录) of the demo province: 山东省 / 济南市 / 历下区 / 市中区.

Real item names with plausible, complete elements (legal basis, materials,
limits, fees, visits, online depth, themes) as base items of 山东省, and
implementation entries for the demo departments of 历下区, 市中区 and 济南市.
Item codes, licence type codes and departments' credit codes are synthetic.

Five county entries deliberately deviate, so that the reports show real
discrepancies (``DEVIATIONS``: the test asserts the reports list exactly these):

- 市中区 食品经营许可 renamed "食品经营许可证核发" — consistency: 事项名称;
- 历下区 企业设立登记 without one material — consistency: 申请材料;
- 市中区 公共场所卫生许可 promises 25 working days against a statutory 20 —
  consistency and guide quality: 承诺时限长于法定时限;
- 市中区 失业登记 at depth Ⅳ yet one visit — guide quality;
- 历下区 高龄津贴申领, free of charge, offering online payment — guide quality.

Loading is idempotent: items, departments and entries that exist are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import service
from tongban.catalogue.models import CatalogueItem, Implementation
from tongban.core.errors import Conflict
from tongban.core.identifiers import make_credit_code
from tongban.identity.models import Account
from tongban.identity.service import actor_for_account
from tongban.regions.models import Department

PROVINCE, CITY = "370000000000", "370100000000"
LIXIA, SHIZHONG = "370102000000", "370103000000"
REGION_NAMES = {CITY: "济南市", LIXIA: "历下区", SHIZHONG: "市中区"}
COUNTIES = (LIXIA, SHIZHONG)

HOURS = "周一至周五 上午 9:00—12:00，下午 13:30—17:00（法定节假日除外）"
LOCAL = {
    CITY: {"address": "济南市政务服务中心", "hours": HOURS, "phone": "0531-12345"},
    LIXIA: {"address": "历下区政务服务中心", "hours": HOURS, "phone": "0531-12345"},
    SHIZHONG: {"address": "市中区政务服务中心", "hours": HOURS, "phone": "0531-12345"},
}
# Departments the demo province lacks (demo.py creates twelve kinds per region).
EXTRA_DEPARTMENTS = {"残联": ("残疾人联合会", "残联")}


def _licence_type(n: int) -> str:
    """A synthetic 电子证照 type code: an issuing ministry's credit code (18) + 3 digits."""
    return make_credit_code(f"11100000MB{n:07d}") + "001"


LICENCES = {
    name: _licence_type(i)
    for i, name in enumerate(
        (
            "营业执照",
            "食品经营许可证",
            "出生医学证明",
            "结婚证",
            "机动车驾驶证",
            "公共场所卫生许可证",
            "社会保障卡",
            "医师资格证书",
            "医师执业证书",
            "建设工程规划许可证",
            "建筑工程施工许可证",
            "残疾人证",
            "不动产权证书",
            "教师资格证书",
            "居民户口簿",
        ),
        start=1,
    )
}


def _m(
    name: str,
    issuer: str = "申请人自备",
    originals: int = 1,
    copies: int = 0,
    *,
    required: bool = True,
    kind: str = "both",
    licence: str | None = None,
    data: str | None = None,
    commitment: bool = False,
    note: str = "",
) -> dict[str, Any]:
    return {
        "name": name,
        "issuer": issuer,
        "originals": originals,
        "copies": copies,
        "required": required,
        "kind": kind,
        "licence_type_code": LICENCES[licence] if licence else None,
        "data_element": data,
        "commitment_allowed": commitment,
        "note": note,
    }


ID_CARD = _m(
    "居民身份证",
    "公安机关",
    1,
    0,
    kind="electronic",
    data="person.id_number",
    note="可通过共享数据核验，无需提交",
)
BUSINESS_LICENCE = _m(
    "营业执照",
    "市场监督管理部门",
    0,
    0,
    kind="electronic",
    licence="营业执照",
    note="可调用电子证照，无需提交",
)


def _limit(value: int, unit: str = "working_day", note: str = "") -> dict[str, Any]:
    return {"value": value, "unit": unit, "note": note}


def _basis(title: str, article: str = "") -> dict[str, str]:
    return {"title": title, "article": article}


ONLINE = ["1", "2", "3"]  # 窗口、网上（电脑端）、移动端
ALL_FORMS = ["1", "2", "3", "4"]


@dataclass(frozen=True)
class DemoItem:
    code: str  # 基本编码 (synthetic, GB/T 39046 shape)
    kind: str  # the implementing department's kind (demo.DEPARTMENT_KINDS)
    regions: tuple[str, ...]
    fields: dict[str, Any]


def _item(main: int, kind: str, regions: tuple[str, ...], **f: Any) -> DemoItem:
    doc: dict[str, Any] = {
        "levels": ["3", "4"] if CITY in regions else ["4"],
        "service_objects": ["1"],
        "case_type": "2",
        "handling_forms": ONLINE,
        "visits": 0,
        "online_depth": 4,
        "consult_phone": "12345",
        "supervise_phone": "12345",
        **f,
    }
    return DemoItem(f"37{doc['item_type']}{main:05d}000", kind, regions, doc)


ITEMS: tuple[DemoItem, ...] = (
    _item(
        1,
        "市场监管",
        COUNTIES,
        name="食品经营许可",
        item_type="01",
        service_objects=["2", "6"],
        themes=["permit"],
        legal_basis=[_basis("《中华人民共和国食品安全法》", "第三十五条")],
        summary="从事食品销售和餐饮服务的，应当依法取得食品经营许可。仅销售预包装食品的，实行备案管理。",
        conditions="具有与经营的食品品种、数量相适应的食品原料处理和食品加工、销售、贮存等场所；有相应的设备设施、"
        "食品安全管理人员和保证食品安全的规章制度。",
        materials=[
            _m("食品经营许可申请书"),
            BUSINESS_LICENCE,
            _m("与食品经营相适应的主要设备设施、经营布局、操作流程等文件"),
            _m(
                "食品安全自查、从业人员健康管理、进货查验记录、食品安全事故处置等保证食品安全的规章制度"
            ),
        ],
        statutory_limit=_limit(10),
        promised_limit=_limit(5),
        keywords=["餐饮许可", "开饭店", "小卖部"],
        result={
            "kind": "licence",
            "name": "食品经营许可证",
            "licence_type_code": LICENCES["食品经营许可证"],
        },
        steps=[
            {"name": "申请", "actor": "申请人"},
            {"name": "受理", "actor": "综合窗口", "role": "clerk"},
            {"name": "审查", "actor": "承办科室", "role": "approver", "limit": _limit(3)},
            {"name": "决定", "actor": "市场监督管理局", "role": "approver"},
        ],
    ),
    _item(
        2,
        "市场监管",
        COUNTIES,
        name="个体工商户设立登记",
        item_type="01",
        themes=["start_business"],
        legal_basis=[
            _basis("《中华人民共和国市场主体登记管理条例》", "第三条"),
            _basis("《促进个体工商户发展条例》"),
        ],
        summary="有经营能力的公民从事工商业经营，办理个体工商户登记，领取营业执照。",
        conditions="有经营能力的自然人；有固定的经营场所；经营范围不属于法律、行政法规禁止的行业。",
        materials=[
            _m("个体工商户登记（备案）申请书"),
            ID_CARD,
            _m("经营场所使用相关文件", copies=1),
        ],
        statutory_limit=_limit(3, note="申请材料齐全、符合法定形式的当场登记"),
        promised_limit=_limit(0),
        case_type="1",
        keywords=["个体户", "营业执照", "开店"],
        result={"kind": "licence", "name": "营业执照", "licence_type_code": LICENCES["营业执照"]},
    ),
    _item(
        3,
        "市场监管",
        COUNTIES,
        name="企业设立登记",
        item_type="01",
        service_objects=["2"],
        themes=["start_business"],
        legal_basis=[
            _basis("《中华人民共和国公司法》", "第二十九条"),
            _basis("《中华人民共和国市场主体登记管理条例》", "第三条"),
        ],
        summary="设立公司等企业，向登记机关申请设立登记，领取营业执照；可同时办理刻章、申领发票和社保登记。",
        conditions="有符合规定的名称、住所、注册资本（出资额）和经营范围；有符合章程的股东（出资人）和组织机构。",
        materials=[
            _m("公司登记（备案）申请书"),
            _m("公司章程"),
            _m("股东的主体资格文件或者自然人身份证明", copies=1),
            _m("法定代表人、董事、监事和高级管理人员的任职文件"),
            _m(
                "住所（经营场所）使用相关文件",
                copies=1,
                commitment=True,
                note="可书面承诺住所真实合法",
            ),
        ],
        statutory_limit=_limit(3),
        promised_limit=_limit(1),
        keywords=["开公司", "营业执照", "注册公司"],
        result={"kind": "licence", "name": "营业执照", "licence_type_code": LICENCES["营业执照"]},
    ),
    _item(
        4,
        "市场监管",
        COUNTIES,
        name="企业注销登记",
        item_type="01",
        service_objects=["2"],
        themes=["cancel"],
        legal_basis=[_basis("《中华人民共和国市场主体登记管理条例》", "第三十一条")],
        summary="企业因解散、被宣告破产或者其他法定事由需要终止的，申请注销登记；符合条件的可适用简易注销。",
        conditions="已依法完成清算，结清应缴税款和社会保险费；适用简易注销的，公示期满无异议。",
        materials=[
            _m("注销登记申请书"),
            _m("依法作出解散的决议或者决定，或者被行政机关吊销营业执照、责令关闭、撤销的文件"),
            _m("经确认的清算报告"),
            _m(
                "清税证明",
                "税务机关",
                0,
                0,
                kind="electronic",
                data="enterprise.tax_clearance",
                note="通过部门共享获取",
            ),
        ],
        statutory_limit=_limit(3),
        promised_limit=_limit(1),
        keywords=["公司注销", "关闭公司"],
        result={"kind": "document", "name": "准予注销登记通知书"},
    ),
    _item(
        5,
        "卫生健康",
        COUNTIES,
        name="出生医学证明办理",
        item_type="20",
        themes=["birth"],
        legal_basis=[_basis("《中华人民共和国母婴保健法》", "第二十三条")],
        summary="新生儿出生后，由助产机构签发《出生医学证明》，它是新生儿申报户口的依据。",
        conditions="在本辖区助产机构内出生的新生儿；院外出生的，经核实出生事实后签发。",
        materials=[
            _m("父母双方有效身份证件", "公安机关", 1, 1),
            _m("《出生医学证明》首次签发登记表", "助产机构"),
        ],
        statutory_limit=_limit(1),
        promised_limit=_limit(0),
        case_type="1",
        handling_forms=["1", "2"],
        visits=1,
        visit_reason="须由父母持有效身份证件到助产机构核对新生儿信息后现场领取",
        online_depth=2,
        appointment=True,
        keywords=["出生证", "出生证明", "生孩子"],
        result={
            "kind": "licence",
            "name": "出生医学证明",
            "licence_type_code": LICENCES["出生医学证明"],
        },
    ),
    _item(
        6,
        "公安",
        COUNTIES,
        name="出生登记（新生儿入户）",
        item_type="07",
        themes=["birth"],
        legal_basis=[_basis("《中华人民共和国户口登记条例》", "第七条")],
        summary="婴儿出生后一个月以内，由户主、亲属或者抚养人向常住地户口登记机关申报出生登记。",
        conditions="新生儿父母一方为本辖区常住户口；持有《出生医学证明》。",
        materials=[
            _m(
                "出生医学证明",
                "助产机构",
                0,
                0,
                kind="electronic",
                licence="出生医学证明",
                note="可调用电子证照",
            ),
            _m("父母居民户口簿", "公安机关", 0, 0, kind="electronic", data="person.household"),
            ID_CARD,
            _m(
                "父母结婚证",
                "婚姻登记机关",
                0,
                0,
                required=False,
                kind="electronic",
                licence="结婚证",
            ),
        ],
        statutory_limit=_limit(0),
        promised_limit=_limit(0),
        case_type="1",
        express=True,
        keywords=["上户口", "新生儿落户", "报户口"],
        result={"kind": "document", "name": "居民户口簿（新生儿户口页）"},
    ),
    _item(
        7,
        "人社",
        COUNTIES,
        name="城乡居民养老保险参保登记",
        item_type="20",
        themes=["retire"],
        legal_basis=[
            _basis("《中华人民共和国社会保险法》", "第二十条"),
            _basis("《国务院关于建立统一的城乡居民基本养老保险制度的意见》", "国发〔2014〕8号"),
        ],
        summary="年满 16 周岁（不含在校学生）、未参加职工基本养老保险的城乡居民，可在户籍地参加城乡居民养老保险。",
        conditions="年满 16 周岁，非在校学生，未参加职工基本养老保险，在本辖区有户籍。",
        materials=[ID_CARD],
        statutory_limit=_limit(0),
        promised_limit=_limit(0),
        case_type="1",
        keywords=["居民养老保险", "农村养老保险", "参保"],
        result={"kind": "document", "name": "参保登记信息"},
    ),
    _item(
        8,
        "医保",
        COUNTIES,
        name="城乡居民基本医疗保险参保登记",
        item_type="20",
        themes=["medical", "birth"],
        legal_basis=[_basis("《中华人民共和国社会保险法》", "第二十五条")],
        summary="未参加职工医保的城乡居民（含新生儿、学生）参加城乡居民基本医疗保险，按年度缴费。",
        conditions="本辖区户籍或持有居住证的城乡居民，未参加职工基本医疗保险。",
        materials=[ID_CARD],
        statutory_limit=_limit(0),
        promised_limit=_limit(0),
        case_type="1",
        keywords=["居民医保", "新农合", "医保参保"],
        result={"kind": "document", "name": "参保登记信息"},
    ),
    _item(
        9,
        "民政",
        COUNTIES,
        name="结婚登记",
        item_type="07",
        themes=["marriage"],
        tongban_scope="national",
        legal_basis=[
            _basis("《中华人民共和国民法典》", "第一千零四十九条"),
            _basis("《婚姻登记条例》"),
        ],
        summary="要求结婚的男女双方应当亲自到婚姻登记机关申请结婚登记，符合规定的当场予以登记并发给结婚证。",
        conditions="男满 22 周岁、女满 20 周岁；双方完全自愿；双方均无配偶；没有直系血亲和三代以内旁系血亲关系。",
        materials=[
            _m("本人的居民户口簿和居民身份证", "公安机关", 1, 0),
            _m(
                "本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明",
                "婚姻登记机关现场填写",
            ),
            _m("近期半身免冠合影照片", copies=0, originals=3),
        ],
        statutory_limit=_limit(0),
        promised_limit=_limit(0),
        case_type="1",
        handling_forms=["1", "2", "3"],
        visits=1,
        visit_reason="婚姻登记须男女双方共同亲自到婚姻登记机关现场办理（《中华人民共和国民法典》第一千零四十九条）",
        online_depth=2,
        appointment=True,
        keywords=["领证", "领结婚证", "登记结婚"],
        result={"kind": "licence", "name": "结婚证", "licence_type_code": LICENCES["结婚证"]},
    ),
    _item(
        10,
        "公安",
        (CITY,),
        name="机动车驾驶证换证",
        item_type="01",
        themes=["driving"],
        legal_basis=[
            _basis("《中华人民共和国道路交通安全法》", "第十九条"),
            _basis("《机动车驾驶证申领和使用规定》"),
        ],
        summary="机动车驾驶证有效期满前九十日内，驾驶人申请换领新的驾驶证；可网上申请、邮寄到家。",
        conditions="驾驶证有效期满前九十日内；身体条件符合申领驾驶证的要求。",
        materials=[
            ID_CARD,
            _m(
                "机动车驾驶人身体条件证明",
                "县级或者部队团级以上医疗机构",
                kind="electronic",
                note="医疗机构已联网的，无需提交纸质证明",
            ),
        ],
        statutory_limit=_limit(1),
        promised_limit=_limit(0),
        case_type="1",
        handling_forms=ALL_FORMS,
        fee_charged=True,
        fees=[
            {
                "name": "机动车驾驶证工本费",
                "standard": "10元/证",
                "basis": "公安交通管理工本费收费标准（国家发展改革委、财政部核定）",
            }
        ],
        online_payment=True,
        express=True,
        keywords=["驾照到期", "换驾照", "驾驶证到期"],
        result={
            "kind": "licence",
            "name": "机动车驾驶证",
            "licence_type_code": LICENCES["机动车驾驶证"],
        },
    ),
    _item(
        11,
        "卫生健康",
        COUNTIES,
        name="公共场所卫生许可",
        item_type="01",
        service_objects=["2", "6"],
        themes=["permit"],
        legal_basis=[
            _basis("《公共场所卫生管理条例》", "第八条"),
            _basis("《公共场所卫生管理条例实施细则》", "第二十二条"),
        ],
        summary="宾馆、美容美发、游泳场所等公共场所的经营者，开业前应当取得公共场所卫生许可证。",
        conditions="场所的选址、设计、装修和卫生设施符合卫生标准和要求；有卫生管理制度和经培训的从业人员。",
        materials=[
            _m("公共场所卫生许可证申请表"),
            _m("法定代表人或者负责人身份证明", copies=1),
            _m("公共场所地址方位示意图、平面图和卫生设施平面布局图"),
            _m(
                "公共场所卫生检测或者评价报告",
                "具备资质的检测机构",
                commitment=True,
                note="可告知承诺后补交",
            ),
            _m("公共场所卫生管理制度"),
        ],
        statutory_limit=_limit(20),
        promised_limit=_limit(5),
        keywords=["卫生许可证", "美容院许可", "宾馆许可"],
        result={
            "kind": "licence",
            "name": "公共场所卫生许可证",
            "licence_type_code": LICENCES["公共场所卫生许可证"],
        },
    ),
    _item(
        12,
        "人社",
        COUNTIES,
        name="社会保障卡申领",
        item_type="20",
        themes=["work", "birth"],
        legal_basis=[_basis("《中华人民共和国社会保险法》", "第五十八条")],
        summary="参保人员申领社会保障卡（含电子社保卡），用于就医结算、待遇领取和身份凭证。",
        conditions="在本辖区参加社会保险的人员（含新生儿）。",
        materials=[ID_CARD, _m("近期免冠证件照片电子版", kind="electronic")],
        statutory_limit=_limit(20),
        promised_limit=_limit(15),
        handling_forms=ALL_FORMS,
        express=True,
        keywords=["社保卡", "办社保卡"],
        result={
            "kind": "licence",
            "name": "社会保障卡",
            "licence_type_code": LICENCES["社会保障卡"],
        },
    ),
    _item(
        13,
        "住建",
        (CITY,),
        name="住房公积金提取",
        item_type="20",
        themes=["housing"],
        legal_basis=[_basis("《住房公积金管理条例》", "第二十四条")],
        summary="职工购买、建造、翻建、大修自住住房，或者租房、离休退休等，可以提取住房公积金账户内的存储余额。",
        conditions="符合《住房公积金管理条例》第二十四条规定的提取情形之一。",
        materials=[
            ID_CARD,
            _m("购房合同、不动产权证书或者租房证明", copies=1),
            _m("本人银行结算账户", kind="electronic"),
        ],
        statutory_limit=_limit(3),
        promised_limit=_limit(1),
        keywords=["公积金", "提公积金", "取公积金"],
        result={"kind": "document", "name": "住房公积金提取到账通知"},
    ),
    _item(
        14,
        "人社",
        COUNTIES,
        name="失业登记",
        item_type="20",
        themes=["work"],
        legal_basis=[_basis("《就业服务与就业管理规定》")],
        summary="在法定劳动年龄内、有劳动能力和就业要求、处于无业状态的城乡劳动者，可以办理失业登记，享受就业服务和政策。",
        conditions="法定劳动年龄内，有劳动能力和就业要求，处于无业状态。",
        materials=[ID_CARD],
        statutory_limit=_limit(0),
        promised_limit=_limit(0),
        case_type="1",
        keywords=["失业", "没工作", "失业证"],
        result={"kind": "document", "name": "就业创业证（电子）"},
    ),
    _item(
        15,
        "医保",
        COUNTIES,
        name="生育津贴申领",
        item_type="05",
        themes=["birth", "marriage"],
        legal_basis=[
            _basis("《中华人民共和国社会保险法》", "第五十四条"),
            _basis("《中华人民共和国社会保险法》", "第五十六条"),
        ],
        summary="参加职工生育保险的女职工生育或者流产，按规定领取生育津贴。",
        conditions="用人单位已为职工缴纳生育保险费；符合计划生育政策。",
        materials=[
            ID_CARD,
            _m("出生医学证明", "助产机构", 0, 0, kind="electronic", licence="出生医学证明"),
            _m("生育医疗费用结算单据", "医疗机构"),
        ],
        statutory_limit=_limit(20),
        promised_limit=_limit(10),
        keywords=["生育保险", "产假工资", "生孩子报销"],
        result={"kind": "document", "name": "生育津贴核定结果"},
    ),
    _item(
        16,
        "卫生健康",
        (CITY, LIXIA),
        name="医师执业注册",
        item_type="01",
        themes=["medical"],
        legal_basis=[
            _basis("《中华人民共和国医师法》", "第十三条"),
            _basis("《中华人民共和国医师法》", "第十四条"),
        ],
        summary="取得医师资格的人员，向所在地县级以上卫生健康主管部门申请注册，取得医师执业证书后方可执业。",
        conditions="取得医师资格；有拟执业的医疗卫生机构；身体健康，能够胜任医师工作。",
        materials=[
            _m("医师执业注册申请审核表"),
            _m("医师资格证书", "卫生健康主管部门", 0, 0, kind="electronic", licence="医师资格证书"),
            _m("近 6 个月内的健康体检表", "县级以上医疗机构"),
            _m("拟执业医疗卫生机构的聘用证明"),
        ],
        statutory_limit=_limit(20),
        promised_limit=_limit(5),
        keywords=["医生注册", "执业证"],
        handling_forms=ALL_FORMS,
        online_depth=3,  # 全程网办 "can": online and by post, depth Ⅲ so far
        result={
            "kind": "licence",
            "name": "医师执业证书",
            "licence_type_code": LICENCES["医师执业证书"],
        },
    ),
    _item(
        17,
        "住建",
        (CITY, LIXIA, SHIZHONG),
        name="建筑工程施工许可",
        item_type="01",
        service_objects=["2"],
        themes=["invest"],
        legal_basis=[
            _basis("《中华人民共和国建筑法》", "第七条"),
            _basis("《建筑工程施工许可管理办法》"),
        ],
        summary="建筑工程开工前，建设单位向工程所在地县级以上住房城乡建设主管部门申请领取施工许可证。",
        conditions="已办理用地和规划许可；施工场地已具备施工条件；已确定施工企业；有满足施工需要的施工图纸和技术资料。",
        materials=[
            _m("建筑工程施工许可证申请表"),
            _m(
                "建设工程规划许可证",
                "自然资源和规划部门",
                0,
                0,
                kind="electronic",
                licence="建设工程规划许可证",
            ),
            _m("中标通知书或者直接发包文件及施工合同", copies=1),
            _m("施工图设计文件审查合格书"),
        ],
        statutory_limit=_limit(7),
        promised_limit=_limit(3),
        keywords=["施工许可证", "开工许可"],
        result={
            "kind": "licence",
            "name": "建筑工程施工许可证",
            "licence_type_code": LICENCES["建筑工程施工许可证"],
        },
    ),
    _item(
        18,
        "残联",
        COUNTIES,
        name="残疾人证办理",
        item_type="20",
        themes=["medical"],
        legal_basis=[
            _basis("《中华人民共和国残疾人保障法》"),
            _basis("《中华人民共和国残疾人证管理办法》"),
        ],
        summary="符合残疾标准的本辖区户籍居民，经残疾评定后申领《中华人民共和国残疾人证》，享受相关扶助政策。",
        conditions="本辖区户籍；经指定医疗机构评定，符合残疾标准。",
        materials=[ID_CARD, _m("残疾人证申请表"), _m("近期两寸免冠照片", originals=2)],
        statutory_limit=_limit(30),
        promised_limit=_limit(20),
        handling_forms=["1", "2"],
        visits=1,
        visit_reason="须到指定医疗机构进行残疾评定",
        online_depth=2,
        keywords=["残疾证", "办残疾证"],
        result={"kind": "licence", "name": "残疾人证", "licence_type_code": LICENCES["残疾人证"]},
    ),
    _item(
        19,
        "民政",
        COUNTIES,
        name="高龄津贴申领",
        item_type="05",
        themes=["retire"],
        legal_basis=[_basis("《中华人民共和国老年人权益保障法》", "第三十三条")],
        summary="本辖区户籍、年满 80 周岁的老年人，可申领高龄津贴，按月发放到本人账户。",
        conditions="本辖区户籍，年满 80 周岁。",
        materials=[ID_CARD, _m("本人银行结算账户", kind="electronic")],
        statutory_limit=_limit(20),
        promised_limit=_limit(10),
        keywords=["高龄补贴", "老年补贴", "80岁补贴"],
        result={"kind": "document", "name": "高龄津贴核定结果"},
    ),
    _item(
        20,
        "自然资源",
        (CITY,),
        name="不动产转移登记",
        item_type="07",
        themes=["housing"],
        legal_basis=[
            _basis("《不动产登记暂行条例》", "第三条"),
            _basis("《不动产登记暂行条例》", "第二十条"),
        ],
        summary="买卖、继承、赠与等导致不动产权利转移的，当事人申请转移登记，领取不动产权证书。",
        conditions="不动产已办理首次登记；权利转移的原因真实合法；已依法缴纳税费。",
        materials=[
            _m("不动产登记申请书"),
            _m("申请人身份证明", "公安机关", 1, 1),
            _m("不动产权属证书", "不动产登记机构", 1, 0, licence="不动产权证书"),
            _m("买卖合同等不动产权利转移的材料"),
            _m("完税凭证", "税务机关", 0, 0, kind="electronic", data="tax.payment"),
        ],
        statutory_limit=_limit(30),
        promised_limit=_limit(5),
        handling_forms=["1", "2"],
        visits=1,
        visit_reason="须当面核验买卖双方身份并签署询问笔录",
        online_depth=3,
        fee_charged=True,
        fees=[
            {
                "name": "不动产登记费",
                "standard": "住宅类 80 元/件，非住宅类 550 元/件",
                "basis": "《国家发展改革委 财政部关于不动产登记收费标准等有关问题的通知》（发改价格规〔2016〕2559号）",
            }
        ],
        online_payment=True,
        keywords=["过户", "房产证", "买房过户"],
        result={
            "kind": "licence",
            "name": "不动产权证书",
            "licence_type_code": LICENCES["不动产权证书"],
        },
    ),
    _item(
        21,
        "教育",
        COUNTIES,
        name="教师资格认定",
        item_type="01",
        themes=["school"],
        legal_basis=[_basis("《中华人民共和国教师法》", "第十三条"), _basis("《教师资格条例》")],
        summary="取得教师资格考试合格证明或者符合免考条件的人员，申请认定中小学教师资格。",
        conditions="具有规定的学历；教师资格考试合格或者符合免考条件；普通话水平达到标准；体检合格。",
        materials=[
            _m("教师资格认定申请表"),
            ID_CARD,
            _m("学历证书", "高等学校", 0, 1),
            _m("体检结论", "指定医疗机构"),
        ],
        statutory_limit=_limit(30),
        promised_limit=_limit(20),
        handling_forms=["1", "2"],
        visits=1,
        visit_reason="须到指定医院参加体检",
        online_depth=3,
        keywords=["教师证", "教资认定"],
        result={
            "kind": "licence",
            "name": "教师资格证书",
            "licence_type_code": LICENCES["教师资格证书"],
        },
    ),
)


@dataclass(frozen=True)
class Deviation:
    item: str  # the base item's name
    region: str
    overrides: dict[str, Any]
    consistency: tuple[str, ...] = ()  # finding codes the consistency report lists
    guide: tuple[str, ...] = ()  # finding codes the guide-quality report lists


def _without(item: str, material: str) -> list[dict[str, Any]]:
    doc = next(i for i in ITEMS if i.fields["name"] == item).fields
    return [m for m in doc["materials"] if m["name"] != material]


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "食品经营许可", SHIZHONG, {"name": "食品经营许可证核发"}, consistency=("name_differs",)
    ),
    Deviation(
        "企业设立登记",
        LIXIA,
        {"materials": _without("企业设立登记", "住所（经营场所）使用相关文件")},
        consistency=("materials_differ",),
    ),
    Deviation(
        "公共场所卫生许可",
        SHIZHONG,
        {"promised_limit": _limit(25)},
        consistency=("promised_exceeds_statutory",),
        guide=("promised_exceeds_statutory",),
    ),
    Deviation(
        "失业登记",
        SHIZHONG,
        {"visits": 1, "visit_reason": "须本人到窗口核验就业失业状态"},
        guide=("depth4_visits",),
    ),
    Deviation("高龄津贴申领", LIXIA, {"online_payment": True}, guide=("payment_without_fee",)),
)


@dataclass
class Loaded:
    items: int = 0
    implementations: int = 0
    departments: int = 0
    skipped: list[str] = field(default_factory=list)


async def _department(s: AsyncSession, region: str, kind: str, out: Loaded) -> Department:
    dept = (
        await s.execute(
            select(Department)
            .where(Department.region_code == region, Department.kind == kind)
            .order_by(Department.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if dept is not None:
        return dept
    out.departments += 1
    suffix, short = EXTRA_DEPARTMENTS[kind]
    n = 900 + list(EXTRA_DEPARTMENTS).index(kind) * 10 + list(REGION_NAMES).index(region)
    dept = Department(
        region_code=region,
        credit_code=make_credit_code(f"13{region[:6]}MB{n:07d}"),
        name=REGION_NAMES[region] + suffix,
        short_name=short,
        kind=kind,
    )
    s.add(dept)
    await s.flush()
    return dept


async def load_demo_catalogue(s: AsyncSession, *, admin_username: str = "admin") -> Loaded:
    """Create what is missing of the demo catalogue; return what was created."""
    out = Loaded()
    acc = (
        await s.execute(select(Account).where(Account.username == admin_username))
    ).scalar_one_or_none()
    if acc is None:
        out.skipped.append(f"没有演示管理员账户 {admin_username}")
        return out
    actor = await actor_for_account(s, acc, via="system")
    await service.ensure_default_themes(s)
    deviations = {(d.item, d.region): d for d in DEVIATIONS}
    for demo in ITEMS:
        item = (
            await s.execute(select(CatalogueItem).where(CatalogueItem.base_code == demo.code))
        ).scalar_one_or_none()
        if item is None:
            item = await service.create_item(
                s,
                actor,
                base_code=demo.code,
                fields=demo.fields,
                region_code=PROVINCE,
                note="演示数据",
                code_scheme="gbt39046",
            )
            await service.publish_item(s, actor, item.id)
            out.items += 1
        for region in demo.regions:
            dept = await _department(s, region, demo.kind, out)
            have = (
                await s.execute(
                    select(Implementation.id).where(
                        Implementation.item_id == item.id, Implementation.department_id == dept.id
                    )
                )
            ).first()
            if have:
                continue
            dev = deviations.get((demo.fields["name"], region))
            impl = await service.create_implementation(
                s,
                actor,
                item_id=item.id,
                department_id=dept.id,
                local=LOCAL[region],
                overrides=dev.overrides if dev else None,
                note="演示数据",
            )
            try:
                await service.publish_implementation(s, actor, impl.id)
            except (
                Conflict
            ):  # catalogue_block_inconsistent_publish: the deviating entry stays a draft
                out.skipped.append(
                    f"{REGION_NAMES[region]} {demo.fields['name']} 与基本目录不一致，保留为草稿"
                )
            out.implementations += 1
    return out
