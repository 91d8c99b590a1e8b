/* The report pages' two helpers. Both only add to what works without JavaScript: the
   upload form's file input, and the result page's "Refresh" link. */
(function () {
  "use strict";

  /* A file dropped on the zone goes into the form's own file input, so the form posts it
     exactly as if it had been chosen with the button. */
  function dropZone(zone) {
    var input = zone.querySelector("input[type=file]");
    var name = zone.querySelector("[data-file-name]");
    var hint = zone.querySelector("[data-drop-hint]");
    if (!input || typeof DataTransfer === "undefined") {
      return;
    }
    zone.classList.add("ready");
    if (hint) {
      hint.hidden = false;
    }
    function show() {
      if (name) {
        name.textContent = input.files.length ? input.files[0].name : "";
      }
    }
    function carriesFiles(event) {
      var types = event.dataTransfer && event.dataTransfer.types;
      return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
    }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        if (!carriesFiles(event)) {
          return;
        }
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        zone.classList.add("over");
      });
    });
    zone.addEventListener("dragleave", function (event) {
      if (!zone.contains(event.relatedTarget)) {
        zone.classList.remove("over");
      }
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) {
        return;
      }
      var chosen = new DataTransfer();
      chosen.items.add(files[0]);
      input.files = chosen.files;
      show();
    });
    // A file dropped beside the zone would make the browser leave the page to open it.
    ["dragover", "drop"].forEach(function (type) {
      window.addEventListener(type, function (event) {
        if (carriesFiles(event) && !zone.contains(event.target)) {
          event.preventDefault();
        }
      });
    });
  }

  /* While the import runs, ask how far it is and move the bar; once it has finished, load
     the page again, which then shows the result. A failed request waits longer each time. */
  function follow(box) {
    var url = box.getAttribute("data-status-url");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var delay = 1000;
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(function (status) {
          if (status.finished) {
            window.location.reload();
            return;
          }
          if (bar && status.rows) {
            bar.max = status.rows;
            bar.value = status.processed;
          }
          if (text) {
            text.textContent = status.progress_text;
          }
          delay = 1000;
          window.setTimeout(poll, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 30000);
          window.setTimeout(poll, delay);
        });
    }
    window.setTimeout(poll, delay);
  }

  document.querySelectorAll("[data-dropzone]").forEach(dropZone);
  document.querySelectorAll("[data-status-url]").forEach(follow);
})();
