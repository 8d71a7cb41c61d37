/* What every page shares (base.html loads it). The pages have no inline script and no on…=
   handler (the Content-Security-Policy allows only script files of this site), so the small
   behaviours are switched on by data attributes:

   - data-once on a form, or on the submit button that sent it: the form is sent once. A second
     submit is dropped and the form's submit buttons are disabled (after the submit, so that the
     pressed button's name and value still go with it). The server refuses a repeat as well; this
     only spares the person the second request and its error.
   - data-confirm="question" on a form: asks first; "Cancel" sends nothing.
   - data-autosubmit on a control: changing it sends its form (the language menu, filters, the
     on/off switches of automations).
   - data-select-on-focus on a text field: its text is selected when it gets the focus.

   Everything works without JavaScript too: plain forms and buttons. */
(function () {
  "use strict";

  var SUBMIT_BUTTONS = "button[type=submit], button:not([type]), input[type=submit]";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var submitter = event.submitter;
    if (!form.hasAttribute("data-once") && !(submitter && submitter.hasAttribute("data-once"))) return;
    if (form.dataset.submitted) {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "1";
    window.setTimeout(function () {
      form.querySelectorAll(SUBMIT_BUTTONS).forEach(function (button) {
        if (!button.disabled) {
          button.disabled = true;
          button.dataset.onceDisabled = "1";
        }
      });
    }, 0);
  });

  // Back to a page from the browser's cache: its forms may be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      delete form.dataset.submitted;
      form.querySelectorAll("[data-once-disabled]").forEach(function (button) {
        button.disabled = false;
        delete button.dataset.onceDisabled;
      });
    });
  });

  document.addEventListener("change", function (event) {
    var control = event.target;
    if (!control.matches || !control.matches("[data-autosubmit]")) return;
    var form = control.form;
    if (!form) return;
    // A control that is not sent itself (a switch) cannot be flipped again while the page loads.
    if (!control.name) control.disabled = true;
    if (form.requestSubmit) {
      form.requestSubmit();
    } else {
      form.submit();
    }
  });

  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-select-on-focus]")) field.select();
  });
})();
