/* Course addition to the MathJax 3 configuration that Sphinx writes into each page with maths.
 *
 * Sphinx wraps every displayed equation that contains a line break (\\, even inside a cases block)
 * in \begin{split} ... \end{split}. A chapter that labels such an equation with \tag{NAME} then
 * asks MathJax for a \tag inside split, which TeX forbids: MathJax shows an error instead of the
 * equation. This filter moves the tag after \end{split}, where it labels the whole display, which is
 * what the author wrote. Anything else (several tags, a tag with nested braces) is left for MathJax
 * to report.
 *
 * Loaded after Sphinx's `window.MathJax = {...}` and before the deferred MathJax script; on pages
 * without maths there is no configuration and this file does nothing.
 */
(function () {
  "use strict";
  if (typeof window.MathJax !== "object" || window.MathJax.version) {
    return;  // no maths on this page, or MathJax is already running
  }
  var SPLIT = /^\s*\\begin\{split\}([\s\S]*)\\end\{split\}\s*$/;
  var TAG = /\\tag\*?\s*\{[^{}]*\}/g;

  function liftTagOutOfSplit(tex) {
    var body = tex.match(SPLIT);
    if (!body) {
      return tex;
    }
    var tags = body[1].match(TAG);
    if (!tags || tags.length !== 1) {
      return tex;
    }
    return "\\begin{split}" + body[1].replace(TAG, "") + "\\end{split}" + tags[0];
  }

  var startup = window.MathJax.startup = window.MathJax.startup || {};
  var previousReady = startup.ready;
  startup.ready = function () {
    if (previousReady) {
      previousReady();
    } else {
      window.MathJax.startup.defaultReady();
    }
    window.MathJax.startup.input.forEach(function (jax) {
      if (jax.name === "TeX") {
        jax.preFilters.add(function (args) {
          if (args.math.display) {
            args.math.math = liftTagOutOfSplit(args.math.math);
          }
        });
      }
    });
  };
})();
