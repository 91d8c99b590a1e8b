/* django-celery-beat's periodic task page: the chosen crontab's readable form under it. */
(function () {
  "use strict";
  var $ = django.jQuery;
  var readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  var help = document.currentScript.getAttribute("data-crontab-help");
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    $(".field-crontab .help")
      .text(help)
      .append("<br>", document.createTextNode("Translation: " + readable[$("#id_crontab").val()]));
  });
})();
