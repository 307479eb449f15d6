/* 通办 tongban — conditional fields of an application form (catalogue/apply_form_macro.html).
 *
 * A field wrapper with data-show-if="other" data-show-equals='<json>' is shown
 * only while the field "other" holds that value (and is itself shown). Hidden
 * fields are disabled, so they are not sent; the server evaluates the same
 * conditions (forms.visible_fields) and drops them anyway. Works for the apply
 * page, the editor's live preview (swapped in by htmx) and the clerk's intake.
 */
(function () {
  "use strict";

  function valueOf(root, name) {
    var wrap = root.querySelector('[data-field="' + name + '"]');
    if (!wrap || wrap.hidden) return { shown: false };
    var inputs = wrap.querySelectorAll("input, select, textarea");
    for (var i = 0; i < inputs.length; i++) {
      var el = inputs[i];
      if (el.type === "checkbox") return { shown: true, value: el.checked ? true : undefined };
      if (el.type === "radio") { if (el.checked) return { shown: true, value: el.value }; continue; }
      return { shown: true, value: el.value };
    }
    return { shown: true, value: undefined };
  }

  function matches(value, expected) {
    if (value === undefined || value === "") return expected === null;
    if (typeof expected === "boolean") return value === expected || String(value) === (expected ? "是" : "否");
    if (typeof expected === "number") return Number(value) === expected;
    return String(value) === String(expected);
  }

  function evaluate(root) {
    var conditional = root.querySelectorAll("[data-show-if]");
    // Conditions may chain (B shown when A, C when B): repeat until nothing changes.
    for (var round = 0; round < 10; round++) {
      var changed = false;
      conditional.forEach(function (wrap) {
        var expected;
        try { expected = JSON.parse(wrap.getAttribute("data-show-equals")); } catch (e) { expected = null; }
        var ctl = valueOf(root, wrap.getAttribute("data-show-if"));
        var show = ctl.shown && matches(ctl.value, expected);
        if (wrap.hidden === show) {
          wrap.hidden = !show;
          wrap.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !show; });
          changed = true;
        }
      });
      if (!changed) break;
    }
  }

  function evaluateAll(scope) {
    (scope || document).querySelectorAll("[data-form-root]").forEach(evaluate);
  }

  function onInput(evt) {
    var root = evt.target.closest && evt.target.closest("[data-form-root]");
    if (root) evaluate(root);
  }

  document.addEventListener("change", onInput);
  document.addEventListener("input", onInput);
  document.addEventListener("DOMContentLoaded", function () { evaluateAll(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { evaluateAll(evt.target || document); });
})();
