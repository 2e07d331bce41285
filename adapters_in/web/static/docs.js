// Starts Swagger UI on the page's #swagger-ui element (a file of its own: the CSP allows no inline script).
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.url, domNode: root, deepLinking: true });
});
