"""The demo province: 山东省 (37), 济南市 (3701), 历下区 (370102) and 市中区 (370103).

Real division codes; everything else is synthetic and marked ``is_demo``:
departments with checksum-valid credit codes, staff for every role, a few
hundred persons with checksum-valid identity numbers (names drawn from common
surnames, phones in a made-up range) and enterprises with checksum-valid
credit codes. Loading is idempotent: a second run finds the data and only
prints the accounts.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.core import audit
from tongban.core.clock import now
from tongban.core.db import session_scope
from tongban.core.identifiers import make_credit_code, make_resident_id
from tongban.identity.models import ROLES, Account, Enterprise, EnterpriseAgent, Person
from tongban.identity.service import create_account, hash_password
from tongban.regions.models import Department

DEMO_PASSWORD = "Tongban@2026"  # noqa: S105 - published demo password, printed by `tongban demo`
PROVINCE, CITY = "370000000000", "370100000000"
LIXIA, SHIZHONG = "370102000000", "370103000000"
REGION_NAMES = {PROVINCE: "山东省", CITY: "济南市", LIXIA: "历下区", SHIZHONG: "市中区"}

# (kind, name suffix, short name)
DEPARTMENT_KINDS = [
    ("市场监管", "市场监督管理局", "市场监管局"),
    ("公安", "公安局", "公安局"),
    ("卫生健康", "卫生健康委员会", "卫生健康委"),
    ("人社", "人力资源和社会保障局", "人社局"),
    ("医保", "医疗保障局", "医保局"),
    ("民政", "民政局", "民政局"),
    ("教育", "教育局", "教育局"),
    ("住建", "住房和城乡建设局", "住建局"),
    ("交通运输", "交通运输局", "交通运输局"),
    ("自然资源", "自然资源和规划局", "自然资源局"),
    ("行政审批", "行政审批服务局", "行政审批服务局"),
    ("大数据", "大数据局", "大数据局"),
]
PROVINCE_NAMES = {  # provincial departments are 厅 / 委 rather than 局
    "市场监管": "山东省市场监督管理局",
    "公安": "山东省公安厅",
    "卫生健康": "山东省卫生健康委员会",
    "人社": "山东省人力资源和社会保障厅",
    "医保": "山东省医疗保障局",
    "民政": "山东省民政厅",
    "教育": "山东省教育厅",
    "住建": "山东省住房和城乡建设厅",
    "交通运输": "山东省交通运输厅",
    "自然资源": "山东省自然资源厅",
    "行政审批": "山东省政务服务管理办公室",
    "大数据": "山东省大数据局",
}

# username, roles, region, department kind (None: region-wide), display name
STAFF = [
    ("admin", ["platform_admin"], PROVINCE, "大数据", "平台管理员（省大数据局）"),
    ("leader.jinan", ["leader"], CITY, None, "济南市分管领导"),
    ("supervisor.jinan", ["supervisor"], CITY, "行政审批", "王监察"),
    ("dispatcher.jinan", ["dispatcher"], CITY, "大数据", "刘派单"),
    ("clerk.lixia", ["clerk"], LIXIA, "行政审批", "张窗口"),
    ("approver.lixia", ["approver"], LIXIA, "市场监管", "李审批"),
    ("deptadmin.lixia", ["dept_admin"], LIXIA, "市场监管", "赵管理"),
    ("clerk.shizhong", ["clerk"], SHIZHONG, "行政审批", "陈窗口"),
    ("approver.shizhong", ["approver"], SHIZHONG, "市场监管", "周审批"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强海燕晓东晓燕雪梅文博子涵欣怡浩然宇轩梓萱一诺"
ENTERPRISE_WORDS = [
    "泉城",
    "历山",
    "趵突",
    "大明",
    "千佛",
    "黄河",
    "齐鲁",
    "舜耕",
    "泺源",
    "华山",
    "鹊山",
    "章丘",
]
ENTERPRISE_TRADES = [
    ("科技", "有限公司"),
    ("商贸", "有限公司"),
    ("餐饮管理", "有限公司"),
    ("建筑工程", "有限公司"),
    ("物流", "有限公司"),
    ("医药连锁", "有限公司"),
    ("文化传媒", "有限公司"),
    ("教育咨询", "有限公司"),
]
PERSON_AREAS = [
    (LIXIA, "370102"),
    (SHIZHONG, "370103"),
    ("370104000000", "370104"),
    ("370112000000", "370112"),
]

N_PERSONS = 300
N_CITIZEN_ACCOUNTS = 120
N_ENTERPRISES = 60


def _demo_accounts_table() -> list[dict[str, Any]]:
    rows = [
        {
            "username": u,
            "password": DEMO_PASSWORD,
            "role_label": "、".join(ROLES[r] for r in roles),
            "display_name": name,
            "where": REGION_NAMES.get(region, region),
        }
        for u, roles, region, _k, name in STAFF
    ]
    rows.append(
        {
            "username": "citizen001",
            "password": DEMO_PASSWORD,
            "role_label": "群众（自然人）",
            "display_name": "演示群众",
            "where": "济南市",
        }
    )
    rows.append(
        {
            "username": "citizen002",
            "password": DEMO_PASSWORD,
            "role_label": "企业法定代表人",
            "display_name": "演示法人",
            "where": "济南市",
        }
    )
    return rows


DEMO_ACCOUNTS = _demo_accounts_table()


def _dept_credit_code(region6: str, n: int) -> str:
    # 1 机构编制 + 1 机关, the region code, a 9-character organisation code.
    return make_credit_code(f"11{region6}{'MB'}{n:07d}")


async def _departments(s: AsyncSession) -> dict[tuple[str, str], Department]:
    out: dict[tuple[str, str], Department] = {}
    n = 0
    for region in (PROVINCE, CITY, LIXIA, SHIZHONG):
        for kind, suffix, short in DEPARTMENT_KINDS:
            n += 1
            name = PROVINCE_NAMES[kind] if region == PROVINCE else REGION_NAMES[region] + suffix
            if region == CITY:
                name = "济南市" + suffix
            dept = Department(
                region_code=region,
                credit_code=_dept_credit_code(region[:6], n),
                name=name,
                short_name=short,
                kind=kind,
            )
            s.add(dept)
            out[(region, kind)] = dept
    await s.flush()
    return out


def _person_rows(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    seen: set[str] = set()
    while len(rows) < N_PERSONS:
        region, area = rng.choice(PERSON_AREAS)
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 55))
        number = make_resident_id(area, birth_date=birth, sequence=rng.randrange(1, 999))
        if number in seen:
            continue
        seen.add(number)
        given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
        name = rng.choice(SURNAMES) + given[:2]
        # 170 号段 numbers in a made-up block: clearly synthetic.
        phone = f"1700{len(rows):07d}"
        rows.append({"id_number": number, "name": name, "phone": phone, "region_code": region})
    return rows


async def load_demo(
    maker: async_sessionmaker[AsyncSession], *, progress: Any = None
) -> dict[str, Any]:
    """Load the demo province once; return a summary with the accounts."""
    rng = random.Random(2026)  # the same demo on every machine
    async with session_scope(maker) as s:
        exists = (await s.execute(select(Account.id).where(Account.username == "admin"))).scalar()
        if not exists:
            await _load(s, rng, progress)
        from tongban.catalogue.demo_catalogue import load_demo_catalogue

        catalogue = await load_demo_catalogue(s)  # idempotent: also completes an older demo
        from tongban.licences.demo import load_demo_licence_types

        await load_demo_licence_types(
            s
        )  # 证照目录 for the catalogue's licence results (idempotent)
    async with maker() as s:
        citizens = list(
            (
                await s.execute(
                    select(Account.username)
                    .where(Account.kind == "person")
                    .order_by(Account.username)
                )
            ).scalars()
        )
        persons = len((await s.execute(select(Person.id).where(Person.is_demo.is_(True)))).all())
        ents = len(
            (await s.execute(select(Enterprise.id).where(Enterprise.is_demo.is_(True)))).all()
        )
        depts = len((await s.execute(select(Department.id))).all())
    return {
        "password": DEMO_PASSWORD,
        "accounts": DEMO_ACCOUNTS,
        "persons": persons,
        "enterprises": ents,
        "departments": depts,
        "catalogue": {"items": catalogue.items, "implementations": catalogue.implementations},
        "accounts_json": {
            "password": DEMO_PASSWORD,
            "citizens": citizens,
            "staff": {u: roles for u, roles, *_ in STAFF},
        },
    }


async def _load(s: AsyncSession, rng: random.Random, progress: Any) -> None:
    task = progress.add_task("载入演示数据", total=5) if progress is not None else None

    def step() -> None:
        if progress is not None:
            progress.advance(task)

    depts = await _departments(s)
    step()
    pw_hash = await hash_password(DEMO_PASSWORD)  # one hash shared by all demo accounts
    for username, roles, region, kind, name in STAFF:
        dept = depts[(region, kind)] if kind else None
        await create_account(
            s,
            kind="staff",
            username=username,
            password=None,
            password_hash=pw_hash,
            display_name=name,
            region_code=region,
            department_id=dept.id if dept else None,
            roles=roles,
        )
    step()
    persons = []
    for row in _person_rows(rng):
        p = Person(**row, real_name_level=rng.choice([2, 3, 3, 4]), is_demo=True)
        s.add(p)
        persons.append(p)
    await s.flush()
    for i, p in enumerate(persons[:N_CITIZEN_ACCOUNTS], start=1):
        s.add(
            Account(
                kind="person",
                username=f"citizen{i:03d}",
                password_hash=pw_hash,
                display_name=p.name,
                phone=p.phone,
                person_id=p.id,
                region_code=p.region_code,
                preferences={},
            )
        )
    await s.flush()
    step()
    enterprises = []
    for i in range(N_ENTERPRISES):
        rep = persons[1] if i < 2 else rng.choice(persons[:N_CITIZEN_ACCOUNTS])
        word = ENTERPRISE_WORDS[i % len(ENTERPRISE_WORDS)]
        trade, form = ENTERPRISE_TRADES[(i // len(ENTERPRISE_WORDS) + i) % len(ENTERPRISE_TRADES)]
        region = rep.region_code
        # 9 工商 + 1 企业, region, organisation code.
        code = make_credit_code(f"91{region[:6]}{'MA'}{rng.randrange(10**6):06d}{i % 10}")
        e = Enterprise(
            credit_code=code,
            name=f"济南{word}{trade}{form}",
            legal_rep_id=rep.id,
            region_code=region,
            is_demo=True,
        )
        if any(x.name == e.name for x in enterprises):
            e.name = f"济南{word}{trade}第{i}{form}"
        s.add(e)
        enterprises.append(e)
    await s.flush()
    step()
    t = now()
    for e in enterprises[:20]:
        agent = rng.choice(persons[:N_CITIZEN_ACCOUNTS])
        if agent.id == e.legal_rep_id:
            continue
        s.add(
            EnterpriseAgent(
                enterprise_id=e.id,
                person_id=agent.id,
                authorised_by_id=e.legal_rep_id,
                valid_until=t + dt.timedelta(days=365),
                region_code=e.region_code,
            )
        )
    await s.flush()
    await audit.record(
        s,
        actor="demo",
        action="demo.loaded",
        target_type="region",
        target_id=PROVINCE,
        region_code=PROVINCE,
        details={"persons": len(persons), "enterprises": len(enterprises)},
    )
    step()
