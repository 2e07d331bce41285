// Repairs the markup Swagger UI renders so that the API reference meets the same accessibility
// rule as every other page. Swagger UI re-renders as operations open and close, so the repairs run
// on every change of its tree (a MutationObserver), and are idempotent.
(function () {
  "use strict";

  function label(element, text) {
    // A <label> counts only when it has text: Swagger UI wraps some fields in empty ones.
    var named = Array.prototype.some.call(element.labels || [], function (tag) {
      return tag.textContent.replace(element.textContent, "").trim() !== "";
    });
    if (!named && !element.getAttribute("aria-label") && !element.getAttribute("aria-labelledby")) {
      element.setAttribute("aria-label", text);
    }
  }

  function parameterName(element) {
    var row = element.closest("tr[data-param-name]");
    return row ? row.getAttribute("data-param-name") : null;
  }

  function repair(root) {
    // An operation's header is one button; the deep link inside it would be a second focusable
    // control nested in the first. The button keeps the keyboard; the link stays clickable with
    // the mouse (its handler still updates the address) but leaves the tab order and the
    // accessibility tree.
    root.querySelectorAll(".opblock-summary-control a[href], .opblock-summary-control [tabindex]").forEach(function (link) {
      if (link.hasAttribute("href")) {
        link.setAttribute("data-href", link.getAttribute("href"));
        link.removeAttribute("href");
      }
      link.removeAttribute("tabindex");
    });

    // Selects and fields with no name: the servers list, each parameter's value, a body's type.
    root.querySelectorAll("select, input:not([type=hidden]), textarea").forEach(function (field) {
      if (field.id === "servers") {
        label(field, "Server");
        return;
      }
      var name = parameterName(field);
      if (name) {
        label(field, "Value of parameter " + name);
      } else if (field.closest(".content-type-wrapper, .body-param-content-type, .response-control-media-type")) {
        label(field, "Media type");
      } else if (field.closest(".body-param")) {
        label(field, "Request body");
      } else if (field.closest(".operation-filter-input, .filter")) {
        label(field, "Filter by tag");
      } else if (field.closest(".auth-container")) {
        label(field, field.getAttribute("name") || "Credential");
      } else if (field.closest(".examples-select")) {
        label(field, "Example");
      }
    });

    // Swagger UI titles the spec with a second h1 (the page has one): one level down, so the
    // operations' tags (h3) follow a level 2 heading.
    root.querySelectorAll("h1").forEach(function (heading) {
      heading.setAttribute("aria-level", "2");
    });

    // Swagger UI's own main landmark sits inside the page's main: a region of the page instead.
    root.querySelectorAll("main").forEach(function (inner) {
      if (inner.id !== "main") {
        inner.setAttribute("role", "region");
        inner.setAttribute("aria-label", "Operations");
      }
    });
  }

  window.swaggerAccessibility = function (root) {
    repair(root);
    new MutationObserver(function () {
      repair(root);
    }).observe(root, { childList: true, subtree: true });
  };
})();
