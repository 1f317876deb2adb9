// The browser's time zone (an IANA name such as Europe/Berlin) in the `tz` cookie, so the server renders every date
// in it (core.middleware.TimeZoneMiddleware): tables, chart, exports and live rows alike. Until the cookie is set
// (the very first page), dates are in UTC and say so where times are listed.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // IANA names are cookie-safe as they are (letters, digits, _ + - /): sent unencoded, as the server reads them.
    if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) return;
    // The sign-up form's time zone (owners.forms): the browser's, unless the person chose one already.
    var select = document.querySelector("select[data-browser-zone]");
    if (select && !select.value && select.querySelector('option[value="' + zone + '"]')) select.value = zone;
    var match = document.cookie.match(/(?:^|;\s*)tz=([^;]*)/);
    if (match && match[1] === zone) return;
    document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
  } catch (e) { /* no Intl time zone support: UTC it is */ }
})();
