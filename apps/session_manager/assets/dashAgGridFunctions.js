/* Value formatters of the Session Manager's grids. Columns hold raw numbers (so they sort as
   numbers); these only change what is displayed: thousands separators and units. */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

dagfuncs.smInt = function (value) {
    if (value === null || value === undefined || value === "") { return ""; }
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: 0 });
};

dagfuncs.smFixed = function (value, digits) {
    if (value === null || value === undefined || value === "") { return "–"; }
    return Number(value).toLocaleString("en-US", {
        minimumFractionDigits: digits, maximumFractionDigits: digits });
};

dagfuncs.smBytes = function (value) {
    if (value === null || value === undefined || value === "") { return ""; }
    var n = Number(value);
    var units = ["B", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return i === 0 ? n.toFixed(0) + " B" : n.toFixed(1) + " " + units[i];
};

dagfuncs.smDuration = function (seconds) {
    if (seconds === null || seconds === undefined || seconds === "") { return ""; }
    var s = Math.max(Number(seconds), 0);
    if (s < 60) { return s.toFixed(1) + " s"; }
    var total = Math.round(s);
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), sec = total % 60;
    var pad = function (v) { return (v < 10 ? "0" : "") + v; };
    return h ? h + ":" + pad(m) + ":" + pad(sec) : m + ":" + pad(sec) + " min";
};

/* Long topics elided in the middle ("module/v1/…/SVR3QA2098/state"): the start and the end,
   which tell topics apart, stay visible; the full text is in the tooltip. */
dagfuncs.smElide = function (value, limit) {
    if (value === null || value === undefined) { return ""; }
    var text = String(value);
    if (text.length <= limit) { return text; }
    var head = Math.floor((limit - 1) / 3);
    return text.slice(0, head) + "\u2026" + text.slice(text.length - (limit - 1 - head));
};
