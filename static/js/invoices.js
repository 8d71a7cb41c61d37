/* Invoice pages: "Add line" clones the formset's empty form; "Remove" ticks the row's DELETE box
   and hides it (a new, empty row is simply dropped); "Copy" puts the public link on the clipboard.
   Without JavaScript each line has its "Remove" checkbox and the link can be copied by hand. */
(function () {
  "use strict";

  var form = document.querySelector(".invoice-form");
  if (form) {
    form.classList.add("js");
    var lines = document.getElementById("line-items");
    var template = document.getElementById("line-item-template");
    var total = form.querySelector('input[name$="-TOTAL_FORMS"]');
    var visible = function () { return lines.querySelectorAll("[data-line]:not(.d-none)").length; };
    document.getElementById("add-line").addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      lines.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var added = lines.lastElementChild;
      var first = added && added.querySelector("input[type=text]");
      if (first) { first.focus(); }
    });
    lines.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-line]");
      if (!button) { return; }
      var row = button.closest("[data-line]");
      var box = row.querySelector('input[type=checkbox][name$="-DELETE"]');
      if (box) { box.checked = true; }
      row.classList.add("d-none");
      if (visible() === 0) { document.getElementById("add-line").click(); }
    });
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.dataset.copy);
      input.select();
      var done = function () {
        var label = button.querySelector("[data-copy-label]");
        if (label) { label.textContent = button.dataset.copied; }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done);
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
})();
