/* Workflow board: drag and drop of cards with SortableJS, each drop saved at once.
 *
 * Every column's card list (<ol class="board-cards" data-step-id>) is a Sortable of one shared
 * group, so cards move within and between the columns of this board. A drop POSTs
 * {step, position} to the card's data-move-url (workflows:card-move) with Accept: application/json.
 * On success the columns the server reports are put in the server's order; on any refusal or
 * network error the card goes back where it was and the message is shown in #board-alert.
 * While a move is being saved, dragging is switched off, so moves are saved one after the other.
 * Without JavaScript every card still has its "Move to…" form (a plain POST). Removing a card
 * asks first through app.js's data-confirm.
 */
(function () {
  "use strict";

  function cardsOf(list) {
    return Array.prototype.filter.call(list.children, function (el) {
      return el.classList.contains("board-card");
    });
  }

  function placeAt(list, item, index) {
    var others = cardsOf(list).filter(function (el) { return el !== item; });
    list.insertBefore(item, others[index] || null);
  }

  function updateCount(list) {
    var column = list.closest(".board-column");
    var badge = column && column.querySelector(".board-count");
    if (badge) badge.textContent = String(cardsOf(list).length);
  }

  function syncMoveForm(item, stepId) {
    var select = item.querySelector(".card-move-form select[name=step]");
    if (select) select.value = String(stepId);
  }

  function initBoard(board) {
    var alertBox = document.getElementById("board-alert");
    var token = board.dataset.csrfToken;
    var sortables = [];

    function showError(message) {
      if (!alertBox) { window.alert(message); return; }
      alertBox.textContent = message;
      alertBox.classList.remove("d-none");
      alertBox.focus();
    }

    function clearError() {
      if (!alertBox) return;
      alertBox.textContent = "";
      alertBox.classList.add("d-none");
    }

    function setBusy(busy) {
      sortables.forEach(function (sortable) { sortable.option("disabled", busy); });
      board.classList.toggle("board-busy", busy);
      board.setAttribute("aria-busy", busy ? "true" : "false");
    }

    function applyServerOrder(columns) {
      Object.keys(columns || {}).forEach(function (stepId) {
        var list = board.querySelector('.board-cards[data-step-id="' + stepId + '"]');
        if (!list) return;
        columns[stepId].forEach(function (cardId) {
          var card = document.getElementById("card-" + cardId);
          if (card) {
            list.appendChild(card);
            syncMoveForm(card, stepId);
          }
        });
        updateCount(list);
      });
    }

    function onEnd(evt) {
      var item = evt.item, from = evt.from, to = evt.to;
      var oldIndex = evt.oldDraggableIndex, newIndex = evt.newDraggableIndex;
      if (from === to && oldIndex === newIndex) return;
      updateCount(from);
      updateCount(to);

      function revert(message) {
        placeAt(from, item, oldIndex);
        updateCount(from);
        updateCount(to);
        syncMoveForm(item, from.dataset.stepId);
        showError(message || board.dataset.messageFailed);
      }

      var body = new FormData();
      body.append("step", to.dataset.stepId);
      body.append("position", String(newIndex));
      setBusy(true);
      fetch(item.dataset.moveUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token, "Accept": "application/json", "X-Requested-With": "XMLHttpRequest" },
      })
        .then(function (response) {
          // A login page or a server error page is not JSON: treated as a failed save.
          return response.json().catch(function () { return {}; }).then(function (data) {
            return { response: response, data: data };
          });
        })
        .then(function (result) {
          if (!result.response.ok || !result.data.ok) {
            revert(result.data.error);
            return;
          }
          clearError();
          syncMoveForm(item, to.dataset.stepId);
          applyServerOrder(result.data.columns);
        })
        .catch(function () { revert(); })
        .then(function () { setBusy(false); });
    }

    board.querySelectorAll(".board-cards").forEach(function (list) {
      sortables.push(new Sortable(list, {
        group: "workflow-" + board.dataset.workflowId,
        draggable: ".board-card",
        animation: 150,
        ghostClass: "board-card-ghost",
        chosenClass: "board-card-chosen",
        // Form controls and the "Move to…" menu stay usable; they do not start a drag.
        filter: "button, select, input, textarea, label, summary, .card-move-form",
        preventOnFilter: false,
        // On touch screens a short press first, so that swiping still scrolls the board.
        delay: 200,
        delayOnTouchOnly: true,
        onEnd: onEnd,
      }));
    });
  }

  function init() {
    // Open an inline rename form with its text field focused.
    document.querySelectorAll("details.inline-rename").forEach(function (details) {
      details.addEventListener("toggle", function () {
        var input = details.querySelector("input[type=text]");
        if (details.open && input) { input.focus(); input.select(); }
      });
    });
    if (typeof Sortable === "undefined") return; // the "Move to…" forms still work
    document.querySelectorAll(".board[data-workflow-id]").forEach(initBoard);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
