// Tells the booking form the visitor's time zone, so times are shown in it.
(function () {
  var field = document.querySelector('input[name="time_zone"]');
  if (!field || field.value) return;
  try { field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* server falls back */ }
})();
