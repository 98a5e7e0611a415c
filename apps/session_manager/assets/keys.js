/* Session Manager keyboard: on the Analyse page, k / j open the previous / next message of the
   selection and K / J the previous / next of the same topic (as the inspector's buttons do).
   Keys typed into inputs, text areas and dropdowns are left alone. */
(function () {
    "use strict";
    var KEYS = { k: "analyse-step-prev", j: "analyse-step-next",
                 K: "analyse-step-prev-topic", J: "analyse-step-next-topic" };
    document.addEventListener("keydown", function (event) {
        if (event.ctrlKey || event.metaKey || event.altKey) { return; }
        var id = KEYS[event.key];
        if (!id) { return; }
        var target = event.target;
        var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
        if (tag === "input" || tag === "textarea" || tag === "select" ||
            (target && target.isContentEditable)) { return; }
        var button = document.getElementById(id);
        if (!button || button.disabled) { return; }
        event.preventDefault();
        button.click();
    });
})();
