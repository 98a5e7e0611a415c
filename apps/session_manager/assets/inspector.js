/* Session Manager inspector: draws the JSON tree and the diff of the selected message from
   the data the server sends (analyse-insp-data), with textContent only (a payload is always
   shown as text, never as HTML). Drawn here rather than as Dash components: replacing a tree of
   hundreds of components made each click cost seconds in Dash's renderer. */
(function () {
    "use strict";
    function el(tag, cls, text) {
        var e = document.createElement(tag);
        if (cls) { e.className = cls; }
        if (text !== undefined && text !== null) { e.textContent = text; }
        return e;
    }
    function label(key) {
        return key === null ? [] : [el("span", "jt-key", key + ": ")];
    }
    /* node: ["leaf", key, class, text] | ["cut", key] | ["node", key, brace, open, children, more] */
    function node(n) {
        var d;
        if (n[0] === "leaf") {
            d = el("div", "jt-leaf");
            d.append.apply(d, label(n[1]).concat([el("span", n[2], n[3])]));
            return d;
        }
        if (n[0] === "cut") {
            d = el("div");
            d.append.apply(d, label(n[1]).concat([el("span", "text-muted", "… (tree truncated)")]));
            return d;
        }
        d = el("details");
        d.open = !!n[3];
        var summary = el("summary");
        summary.append.apply(summary, label(n[1]).concat([el("span", "jt-brace", n[2])]));
        var kids = el("div", "jt-children");
        n[4].forEach(function (c) { kids.append(node(c)); });
        if (n[5]) { kids.append(el("div", "text-muted", "…")); }
        d.append(summary, kids);
        return d;
    }
    function render(data) {
        var tree = document.getElementById("analyse-insp-tree");
        if (tree) {
            var host = el("div", "json-tree");
            host.append(data.tree ? node(data.tree) : el("div", "text-muted", data.tree_note));
            tree.replaceChildren(host);
        }
        var diff = document.getElementById("analyse-insp-diff");
        if (diff) {
            if (data.diff) {
                var pre = el("pre", "payload-pre diff");
                data.diff.forEach(function (line) { pre.append(el("span", line[0], line[1] + "\n")); });
                diff.replaceChildren(pre);
            } else {
                diff.replaceChildren(el("div", "text-muted", data.diff_note));
            }
        }
    }
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        inspector: {
            render: function (data) {
                if (!data) { return window.dash_clientside.no_update; }
                render(data);
                return Date.now();
            }
        }
    });
})();
