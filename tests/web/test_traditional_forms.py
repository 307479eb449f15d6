"""繁體 display converts what people read, never what they submit back."""

from tongban.web.render import to_traditional_html


def test_labels_convert_values_and_textareas_do_not():
    html = (
        '<label>事项名称</label><input name="name" value="食品经营许可">'
        '<textarea name="conditions">具有与经营的食品品种相适应的场所</textarea>'
        '<option value="营业执照">营业执照</option><p>办理时间</p>'
    )
    out = to_traditional_html(html)
    assert "事項名稱" in out and "辦理時間" in out
    assert 'value="食品经营许可"' in out and 'value="营业执照"' in out
    assert ">具有与经营的食品品种相适应的场所</textarea>" in out
    assert ">營業執照</option>" in out  # the option's visible text is converted, its value is not
