/* 通办 tongban — small progressive enhancements; every page works without JavaScript. */
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("live-status");
    if (!live) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  // htmx does not swap 4xx/5xx answers: say so instead of failing silently.
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail && evt.detail.xhr ? evt.detail.xhr.status : 0;
    if (status === 401) {
      announce("登录已失效，请重新登录后再试。");
    } else if (status === 403) {
      announce("页面已过期或没有权限，请刷新页面后重试。");
    } else {
      announce("操作未成功（" + status + "），请稍后再试。");
    }
  });
  document.addEventListener("htmx:sendError", function () {
    announce("网络连接失败，请检查网络后重试。");
  });

  // Close the account menu with Escape, returning focus to its button.
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    document.querySelectorAll("details.account-menu[open]").forEach(function (d) {
      d.removeAttribute("open");
      var s = d.querySelector("summary");
      if (s) s.focus();
    });
  });
})();
