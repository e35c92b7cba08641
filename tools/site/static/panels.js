/* The reading site's panels: swap recorded frames when a control moves (no kernel, no framework).
 *
 * tools/site/build.py writes each panel as plain HTML (native range inputs, selects, radio
 * buttons, checkboxes and text boxes, a status line, the starting figure) with
 * data-r1-frames="<folder>/" pointing at the panel's recorded frames. A control's value is the
 * index of a recorded position, so the figure for the current controls is
 * index.frames["i,j,..."]. The folder's index.json is fetched the first time the reader reaches
 * for the panel (pointer, focus or a move), never at page load; each frame image loads when it
 * is first shown (and its neighbours just after, so stepping with the keyboard is smooth).
 */
(function () {
  'use strict';

  var indexes = {};

  function loadIndex(panel) {
    var url = panel.getAttribute('data-r1-frames') + 'index.json';
    if (!indexes[url]) {
      indexes[url] = fetch(url).then(function (r) {
        if (!r.ok) throw new Error(r.status + ' ' + url);
        return r.json();
      });
      indexes[url].catch(function () { delete indexes[url]; });
    }
    return indexes[url];
  }

  function controls(panel) {
    return Array.prototype.slice.call(panel.querySelectorAll('.r1-control'));
  }

  // The recorded position index of a control, or -1 (a text the frames do not have).
  function position(ctl) {
    var kind = ctl.getAttribute('data-kind');
    if (kind === 'range') return Number(ctl.querySelector('input').value);
    if (kind === 'select') return ctl.querySelector('select').selectedIndex;
    if (kind === 'toggle') {
      var radios = ctl.querySelectorAll('input[type=radio]');
      for (var i = 0; i < radios.length; i++) if (radios[i].checked) return i;
      return -1;
    }
    if (kind === 'checkbox') return ctl.querySelector('input').checked ? 1 : 0;
    var box = ctl.querySelector('input, textarea');
    return box.value === box.defaultValue ? 0 : -1;
  }

  // The readout label of a range input's current position.
  function rangeLabel(input) {
    return JSON.parse(input.getAttribute('data-labels'))[Number(input.value)];
  }

  function readout(ctl) {
    var kind = ctl.getAttribute('data-kind');
    var name = ctl.getAttribute('data-label');
    var value;
    if (kind === 'range') {
      value = rangeLabel(ctl.querySelector('input'));
    } else if (kind === 'select') {
      var sel = ctl.querySelector('select');
      value = sel.options[sel.selectedIndex].text;
    } else if (kind === 'toggle') {
      var on = ctl.querySelector('input[type=radio]:checked');
      value = on ? on.parentNode.textContent.trim() : '';
    } else if (kind === 'checkbox') {
      value = ctl.querySelector('input').checked ? 'on' : 'off';
    } else {
      value = 'your text';
    }
    return name + ' = ' + value;
  }

  function keyOf(panel) {
    var parts = controls(panel).map(position);
    return parts.indexOf(-1) >= 0 ? null : parts.join(',');
  }

  function atStart(ctl) {
    var kind = ctl.getAttribute('data-kind');
    if (kind === 'range' || kind === 'text' || kind === 'textarea') {
      var el = ctl.querySelector('input, textarea');
      return el.value === el.defaultValue;
    }
    if (kind === 'select') {
      var sel = ctl.querySelector('select');
      return sel.options[sel.selectedIndex].defaultSelected;
    }
    var boxes = ctl.querySelectorAll('input');
    for (var i = 0; i < boxes.length; i++) if (boxes[i].checked !== boxes[i].defaultChecked) return false;
    return true;
  }

  function reset(panel) {
    controls(panel).forEach(function (ctl) {
      var kind = ctl.getAttribute('data-kind');
      if (kind === 'select') {
        var sel = ctl.querySelector('select');
        for (var i = 0; i < sel.options.length; i++) if (sel.options[i].defaultSelected) sel.selectedIndex = i;
      } else if (kind === 'toggle' || kind === 'checkbox') {
        ctl.querySelectorAll('input').forEach(function (b) { b.checked = b.defaultChecked; });
      } else {
        var el = ctl.querySelector('input, textarea');
        el.value = el.defaultValue;
      }
      updateReadout(ctl);
    });
    show(panel);
  }

  function updateReadout(ctl) {
    if (ctl.getAttribute('data-kind') !== 'range') return;
    var input = ctl.querySelector('input');
    var label = rangeLabel(input);
    input.setAttribute('aria-valuetext', label);
    var out = ctl.querySelector('output');
    if (out) out.textContent = label;
  }

  function preload(src) {
    var im = new Image();
    im.src = src;
    return im;
  }

  function say(panel, html) {
    var note = panel.querySelector('.r1-note');
    if (html === null) {
      note.hidden = true;
      note.innerHTML = '';
      panel.classList.remove('r1-unrecorded');
      return;
    }
    note.innerHTML = html;
    note.hidden = false;
    panel.classList.add('r1-unrecorded');
    var button = note.querySelector('button');
    if (button) button.addEventListener('click', function () { reset(panel); });
  }

  // Control labels are text (a model's output holds tags like </think>): never markup in the note.
  function escapeHtml(text) {
    return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;');
  }

  function unrecorded(panel) {
    var ctls = controls(panel);
    var moved = ctls.filter(function (c) { return !atStart(c); });
    var colab = panel.getAttribute('data-r1-colab');
    var binder = panel.getAttribute('data-r1-binder');
    var text = moved.some(function (c) { return position(c) < 0; });
    var what = text
      ? 'Only the starting text was recorded for this page, not yours'
      : 'This combination (' + moved.map(readout).map(escapeHtml).join(', ') + ') was not recorded for this page: ' +
        'each control was recorded with the others at their starting values';
    return '<strong>Not recorded.</strong> ' + what + '. The figure above is the last recorded one. ' +
      '<button type="button">Back to the starting values</button> or compute any combination by ' +
      'running the notebook: <a href="' + escapeHtml(colab) + '">open it in Colab</a> or ' +
      '<a href="' + escapeHtml(binder) + '">launch it on Binder</a>.';
  }

  function show(panel) {
    var seq = (panel.r1Seq || 0) + 1;
    panel.r1Seq = seq;
    return loadIndex(panel).then(function (index) {
      if (panel.r1Seq !== seq) return;  // a newer move is on its way
      var key = keyOf(panel);
      var frame = key === null ? null : index.frames[key];
      if (!frame) {
        say(panel, unrecorded(panel));
        return;
      }
      var base = panel.getAttribute('data-r1-frames');
      var img = panel.querySelector('.r1-figure img');
      var status = panel.querySelector('.r1-status');
      var src = base + frame.image;
      var next = preload(src);  // swap once decoded: the old figure stays until then, no flash
      var swap = function () {
        if (panel.r1Seq !== seq) return;
        img.setAttribute('src', src);
        img.alt = frame.alt;
        status.innerHTML = frame.status;
        say(panel, null);
        neighbours(panel, index);
      };
      if (next.complete) swap(); else { next.onload = swap; next.onerror = swap; }
    }, function (err) {
      say(panel, '<strong>The recorded frames could not be loaded</strong> (' + escapeHtml(err.message || err) + ').');
    });
  }

  // The frames one step either side of each control, so the next key press shows at once.
  function neighbours(panel, index) {
    var pos = controls(panel).map(position);
    var base = panel.getAttribute('data-r1-frames');
    pos.forEach(function (p, i) {
      [p - 1, p + 1].forEach(function (q) {
        var key = pos.slice(0, i).concat([q], pos.slice(i + 1)).join(',');
        if (index.frames[key]) preload(base + index.frames[key].image);
      });
    });
  }

  function wire(panel) {
    if (panel.r1Wired) return;
    panel.r1Wired = true;
    var warm = function () { loadIndex(panel).catch(function () {}); };
    panel.addEventListener('pointerdown', warm);
    panel.addEventListener('focusin', warm);
    controls(panel).forEach(function (ctl) {
      var kind = ctl.getAttribute('data-kind');
      var onMove = function () { updateReadout(ctl); show(panel); };
      var live = kind === 'range' || kind === 'text' || kind === 'textarea';
      ctl.addEventListener(live ? 'input' : 'change', onMove);
    });
    // A browser that restored the controls' state (back button) shows what they say.
    if (!controls(panel).every(atStart)) {
      controls(panel).forEach(updateReadout);
      show(panel);
    }
  }

  function init() {
    document.querySelectorAll('.r1-panel[data-r1-frames]').forEach(wire);
    document.documentElement.setAttribute('data-r1-panels', 'ready');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
