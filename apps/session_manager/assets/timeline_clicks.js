/* Session Manager timeline: a click on a dot opens its message, a double-click zooms out.
   Plotly reports the first press of a double-click as a click too (and the second as
   another), so a click is held for Plotly's double-click delay and dropped when another press
   on the timeline came within that delay before or after it. */
(function () {
    "use strict";
    var DELAY_MS = 300; /* Plotly's config.doubleClickDelay (default) */
    var presses = [];
    document.addEventListener("mousedown", function (event) {
        var target = event.target;
        if (!target || !target.closest || !target.closest("#analyse-timeline")) { return; }
        presses.push(performance.now());
        if (presses.length > 8) { presses.shift(); }
    }, true);

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        timeline: {
            click: function (clickData) {
                var nu = window.dash_clientside.no_update;
                if (!clickData) { return nu; }
                var at = presses.length ? presses[presses.length - 1] : performance.now();
                var wait = Math.max(0, at + DELAY_MS + 20 - performance.now());
                return new Promise(function (resolve) {
                    setTimeout(function () {
                        var other = presses.some(function (t) {
                            return t !== at && Math.abs(t - at) < DELAY_MS;
                        });
                        resolve(other ? nu : clickData);
                    }, wait);
                });
            }
        }
    });
})();
