// Copy buttons next to read-only fields: select the text (so a manual copy works too) and copy it.
// A file, not an inline script: the Content-Security-Policy allows scripts from this site's files only.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () { button.textContent = "Copied"; };
  field.select();
  var copied = false;
  try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
  if (copied) done();
  else if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, function () {});
});
