// An API's OpenAPI definition in the Swagger UI: loaded from the page's own raw-text URL (no inline
// script: the Content-Security-Policy allows none). "Try it out" is off: the portal is no proxy.
document.addEventListener("DOMContentLoaded", function () {
  var target = document.getElementById("swagger-ui");
  if (!target || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({
    url: target.dataset.definitionUrl,
    dom_id: "#swagger-ui",
    supportedSubmitMethods: [],
    validatorUrl: null,
    deepLinking: false,
  });
});
