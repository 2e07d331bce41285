// Progressive enhancement of "Check a feed": drop a file anywhere on the form to choose it.
// Without this script the file input works as it always does.
window.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("check-form");
  var input = document.getElementById("feed");
  if (!form || !input || typeof DataTransfer === "undefined") return;
  form.classList.add("dropzone");
  form.addEventListener("dragover", function (event) {
    event.preventDefault();
    form.classList.add("dragging");
  });
  form.addEventListener("dragleave", function () {
    form.classList.remove("dragging");
  });
  form.addEventListener("drop", function (event) {
    event.preventDefault();
    form.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      document.getElementById("dropped").textContent = "Chosen: " + input.files[0].name;
    }
  });
});
