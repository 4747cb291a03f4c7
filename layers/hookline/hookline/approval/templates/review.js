// The review page's live preview and counter, and the Reject step. The page works without it:
// the server renders the same preview and count, checks every edit again, and shows the
// reject reason as a second step. Inline, allowed by its hash in the CSP; it loads nothing.
(function () {
  "use strict";
  // X's weighting (twitter-text v3): these ranges count 1, everything else 2, an emoji 2, a URL 23.
  var LIGHT = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
  var URL = /\bhttps?:\/\/[^\s]+/gi;
  var EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;
  var segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter("en", { granularity: "grapheme" }) : null;

  function graphemes(text) {
    return segmenter ? Array.from(segmenter.segment(text), function (s) { return s.segment; }) : Array.from(text);
  }

  function light(code) {
    for (var i = 0; i < LIGHT.length; i++) {
      if (code >= LIGHT[i][0] && code <= LIGHT[i][1]) return true;
    }
    return false;
  }

  function xWeighted(text) {
    var urls = 0;
    var rest = text.normalize("NFC").replace(URL, function () { urls += 1; return ""; });
    var weight = urls * 23;
    graphemes(rest).forEach(function (cluster) {
      if (EMOJI.test(cluster)) { weight += 2; return; }
      Array.from(cluster).forEach(function (ch) { weight += light(ch.codePointAt(0)) ? 1 : 2; });
    });
    return weight;
  }

  var COUNTERS = { "x-weighted": xWeighted, graphemes: function (t) { return graphemes(t.normalize("NFC")).length; } };

  function tidy(text) {
    return text.split(/\s+/).filter(Boolean).join(" ");
  }

  document.querySelectorAll("[data-rendition]").forEach(function (section) {
    var box = section.querySelector("textarea[data-hook]");
    var preview = document.getElementById(section.getAttribute("data-preview"));
    var left = section.querySelector("[data-left]");
    var setup;
    try { setup = JSON.parse(section.getAttribute("data-rendition")); } catch (e) { return; }
    var count = COUNTERS[setup.counting];
    if (!box || !preview || !left || !count) return;
    function update() {
      var words = tidy(box.value);
      preview.textContent = setup.head + words + setup.tail;
      var remaining = setup.limit - setup.fixed - count(words);
      left.textContent = remaining >= 0
        ? remaining + (remaining === 1 ? " character left" : " characters left")
        : -remaining + (remaining === -1 ? " character too many" : " characters too many");
      left.classList.toggle("over", remaining < 0);
    }
    box.addEventListener("input", update);
    update();
  });

  // Reject asks for the reason only once it is pressed.
  var step = document.querySelector("[data-reject-step]");
  var reasons = document.getElementById("reject-step");
  if (step && reasons) {
    step.addEventListener("click", function (event) {
      event.preventDefault();
      reasons.hidden = false;
      step.hidden = true;
      var input = reasons.querySelector("input[type=text], textarea");
      if (input) input.focus();
    });
  }
})();
