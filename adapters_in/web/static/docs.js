// Starts Swagger UI on the page's #swagger-ui element (a file of its own: the CSP allows no inline
// script), with the accessibility repairs of docs-a11y.js watching what it renders.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.swaggerAccessibility(root);
  window.ui = SwaggerUIBundle({ url: root.dataset.url, domNode: root, deepLinking: true });
});
