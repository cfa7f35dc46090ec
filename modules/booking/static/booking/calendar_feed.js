// The calendar panel's copy button: copies the feed address and says "Copied". Where the
// Clipboard API is missing or refused (a page served over plain http, a denied permission),
// the address is selected and copied the old way, or left selected for Ctrl+C.
(function () {
  function say(button, text) {
    var panel = button.closest("[data-cabinet-feed]");
    var status = panel && panel.querySelector("[data-cabinet-copy-status]");
    if (status) status.textContent = text;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-cabinet-copy]");
    if (!button) return;
    var field = document.getElementById(button.dataset.cabinetCopy);
    if (!field) return;
    function selectForTheKeyboard() {
      field.focus();
      field.select();
      var copied = false;
      try {
        copied = document.execCommand("copy");
      } catch (error) {
        copied = false;
      }
      say(button, copied ? button.dataset.copied : button.dataset.copyFailed);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () {
        say(button, button.dataset.copied);
      }, selectForTheKeyboard);
    } else {
      selectForTheKeyboard();
    }
  });
})();
