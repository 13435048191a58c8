/* smartstreet-geo map layers and controls (MIT licence, part of smartstreet-geo). Needs Leaflet 1.9.
 *
 * Everything a map shows comes from one JSON data island (a script element of
 * type application/json with the id ISLAND_ID), read with JSON.parse by
 * SSG.setup. Every value from it reaches the page through textContent, a DOM
 * property, a canvas drawing call or an <img> src (icons are data: URIs of SVG,
 * which cannot run script as images), never through innerHTML. The only HTML
 * string handed to Leaflet is OSM_ATTRIBUTION, a constant of this file; the
 * user's attribution text is added after it as text.
 *
 * The controls (layer list that is also the legend, search, bookmarks,
 * fullscreen, measuring) are written here, small, rather than taken from
 * Leaflet plugins: each is a few dozen lines on Leaflet's own API, and this way
 * every one of them shows data as text only.
 */
(function (window, document, L) {
  "use strict";

  var SSG = (window.SSG = { registry: {}, map: null, version: 3 });
  var TAU = 2 * Math.PI;
  var ISLAND_ID = "ssg-data";
  var OSM_ATTRIBUTION =
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var ICON_URI = /^data:image\/svg\+xml;base64,[A-Za-z0-9+\/=]+$/;
  var COLOUR = /^#[0-9a-f]{6}$/;
  var EARTH_M = 40075016.686; // equator length in metres (Web Mercator)
  var AREA_MAX_ZOOM = 12; // area cards show at this zoom and below
  var CELL = 28; // px: equipment icons closer than this are drawn as one, with their number
  var ICON = 22; // px: equipment icon size
  var RING_MIN_ZOOM = 13; // normally-open points are drawn from this zoom
  var LOD_MAX_ZOOM = 13; // customer dots: one per LOD_CELL pixels at this zoom and below ...
  var LOD_MIN = 20000; // ... for layers of more points than this
  var LOD_CELL = 2; // px

  // ------------------------------------------------------------------ helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(n) {
    return typeof n === "number" ? n.toLocaleString("en-GB") : String(n);
  }

  function colour(c) {
    return typeof c === "string" && COLOUR.test(c) ? c : "#777777";
  }

  function register(key, kind, count, layer, extra) {
    var entry = { kind: kind, count: count, layer: layer };
    if (extra) for (var k in extra) entry[k] = extra[k];
    SSG.registry[key] = entry;
    return entry;
  }

  // Decode interleaved (lon, lat) deltas in 1/scale degree units from `origin`.
  function decode(flat, origin, scale) {
    var n = flat.length >> 1;
    var lon = new Float64Array(n), lat = new Float64Array(n);
    var x = origin[0], y = origin[1];
    for (var i = 0; i < n; i++) {
      x += flat[2 * i];
      y += flat[2 * i + 1];
      lon[i] = x / scale;
      lat[i] = y / scale;
    }
    return [lon, lat];
  }

  function latlngs(flat, origin, scale) {
    var d = decode(flat, origin, scale), out = new Array(d[0].length);
    for (var i = 0; i < out.length; i++) out[i] = [d[1][i], d[0][i]];
    return out;
  }

  // Web Mercator in units of the whole world (0..1), as Leaflet's EPSG:3857.
  function mercX(lon) {
    return (lon + 180) / 360;
  }
  function mercY(lat) {
    var s = Math.sin((lat * Math.PI) / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }

  // Positions 0..n-1 ordered by x (ties by position). Up to 4 million points the
  // x (to 2^-31 of the world, about a centimetre, and rounded so in place) and the
  // position are packed into one double and sorted natively, several times faster
  // than Array.sort with a comparison function.
  function sortedByX(x) {
    var n = x.length, order, i;
    if (n < 1 << 22) {
      var keys = new Float64Array(n), SHIFT = 1 << 22, Q = 2147483648;
      for (i = 0; i < n; i++) {
        var q = Math.floor(x[i] * Q);
        x[i] = q / Q;
        keys[i] = q * SHIFT + i;
      }
      keys.sort();
      order = new Int32Array(n);
      for (i = 0; i < n; i++) order[i] = keys[i] % SHIFT;
      return order;
    }
    order = new Array(n);
    for (i = 0; i < n; i++) order[i] = i;
    return order.sort(function (a, b) {
      return x[a] - x[b] || a - b;
    });
  }

  function lowerBound(arr, value) {
    var lo = 0, hi = arr.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (arr[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function table(rows) {
    var t = el("table");
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", null, row[0]));
      tr.appendChild(el("td", null, row[1]));
      t.appendChild(tr);
    });
    return t;
  }

  // An <img> showing one of the package's icons (data: URIs of SVG, checked).
  function iconImg(uri, size, className) {
    var img = el("img", className);
    img.alt = "";
    img.width = size;
    img.height = size;
    if (typeof uri === "string" && ICON_URI.test(uri)) img.src = uri;
    return img;
  }

  // The key of a legend row: an icon, a line, a ring, a square or a dot.
  function keyElement(row, icons, iconClass) {
    var key;
    if (row.icon) {
      key = el("span", iconClass);
      key.appendChild(iconImg(icons[row.icon], 16));
      return key;
    }
    key = el("span", row.line ? "ssg-line-key" : row.square ? "ssg-key ssg-square" : "ssg-key");
    if (row.ring) {
      key.style.background = "#fff";
      key.style.border = "2px solid " + colour(row.color);
    } else if (row.line) {
      key.style.borderTopColor = colour(row.color);
      if (row.dash) key.style.borderTopStyle = "dashed";
    } else key.style.background = colour(row.color);
    return key;
  }

  function distanceText(m) {
    return m < 1000 ? Math.round(m).toLocaleString("en-GB") + " m" : (m / 1000).toFixed(2) + " km";
  }

  // A control made of one element built by `make` (clicks and scrolls stay in it).
  function control(map, position, make) {
    var c = L.control({ position: position });
    c.onAdd = function () {
      var node = make();
      L.DomEvent.disableClickPropagation(node);
      L.DomEvent.disableScrollPropagation(node);
      return node;
    };
    c.addTo(map);
    return c;
  }

  // ------------------------------------------------------------------ setup
  // The page's data: the JSON of the data island.
  SSG.data = function () {
    var node = document.getElementById(ISLAND_ID);
    return node ? JSON.parse(node.textContent) : {};
  };

  // Build the whole map from the data island (or from `spec`, for tests).
  SSG.setup = function (map, spec) {
    spec = spec || SSG.data();
    SSG.map = map;
    SSG.spec = spec;
    if (typeof spec.title === "string") document.title = spec.title;
    var panes = { ssgLines: 410, ssgRadii: 420, ssgCustomers: 450, ssgEquipment: 640, ssgAreas: 660 };
    Object.keys(panes).forEach(function (name) {
      var pane = map.createPane(name);
      pane.style.zIndex = String(panes[name]);
      if (name !== "ssgLines" && name !== "ssgAreas") pane.style.pointerEvents = "none";
    });
    SSG.lineRenderer = L.canvas({ pane: "ssgLines", tolerance: 4 });
    map.on("click", onMapClick);
    map.on("mousemove", onMouseMove);
    // fit to the data before any layer draws, without animation
    map.setMaxZoom(spec.maxZoom || 20);
    if (spec.bounds) map.fitBounds(spec.bounds, { padding: [24, 24], maxZoom: 17, animate: false });
    SSG.home = spec.bounds || null;
    if (spec.tiles) tiles(map, spec.tiles);
    var icons = (spec.legend && spec.legend.icons) || {};
    SSG.scene = new Scene();
    SSG.scene.on("loading", function () {
      SSG.scene._ssgLoaded = false;
    });
    SSG.scene.on("load", function () {
      SSG.scene._ssgLoaded = true;
      if (!SSG._warm) SSG._warm = setTimeout(warm, 50);
    });
    (spec.layers || []).forEach(function (item) {
      if (FACTORIES.indexOf(item.factory) < 0) throw new Error("unknown layer type");
      var layer = SSG[item.factory](item.spec);
      if (item.show !== false) layer.addTo(map);
    });
    SSG.scene.addTo(map);
    areas(map, spec.areas || []);
    legend(map, spec.legend || { sections: [] }, icons);
    tools(map);
    search(map, spec);
    bookmarks(map, spec);
  };

  var FACTORIES = ["points", "lines", "equipment", "substations"];
  // ------------------------------------------------------------------ tiles
  // Leaflet's attribution control writes attributions as HTML; ours adds the
  // user's attribution text after them as a text node, on every update.
  var Attribution = L.Control.Attribution.extend({
    _update: function () {
      L.Control.Attribution.prototype._update.call(this);
      var text = this.options.ssgText;
      if (!this._map || !text) return;
      if (this._container.childNodes.length) {
        var bar = el("span", null, "|");
        bar.setAttribute("aria-hidden", "true");
        this._container.appendChild(document.createTextNode(" "));
        this._container.appendChild(bar);
        this._container.appendChild(document.createTextNode(" "));
      }
      this._container.appendChild(el("span", "ssg-attribution", text));
    },
  });

  function tiles(map, spec) {
    if (spec.attribution) {
      var old = map.attributionControl, options = { ssgText: spec.attribution };
      if (old) {
        options.prefix = old.options.prefix;
        options.position = old.options.position;
        old.remove();
      }
      map.attributionControl = new Attribution(options).addTo(map);
    }
    var layer = L.tileLayer(spec.url, {
      maxZoom: 20,
      maxNativeZoom: 19,
      attribution: spec.osm ? OSM_ATTRIBUTION : null,
    });
    layer.addTo(map);
    SSG.tileLayer = layer;
  }

  // ------------------------------------------------------------------ scene
  // Every canvas layer (circuits, equipment radii, customers, equipment icons) is
  // a Member drawn into one shared grid layer, the Scene: one canvas per 256 px
  // tile for all of them (a canvas each per layer made a zoom create hundreds,
  // and creating a canvas costs more than drawing on it). A member on the map is
  // drawn in the scene; removing it from the map redraws the scene without it.
  // Passes: 1 lines, 2 equipment zones, 3 customers, 4 equipment icons.
  var PASSES = [1, 2, 3, 4];

  var Member = L.Layer.extend({
    onAdd: function () {
      SSG.scene.show(this, true);
    },
    onRemove: function () {
      SSG.scene.show(this, false);
    },
  });

  // After the first view has drawn: work out the one-dot-per-cell levels of the
  // big customer layers for the zooms not yet seen, one level per task, so that a
  // first zoom out does not wait for them.
  function warm() {
    var todo = [];
    Object.keys(SSG.registry).forEach(function (key) {
      var entry = SSG.registry[key];
      if (entry.kind !== "points") return;
      for (var z = LOD_MAX_ZOOM; z >= 5; z--) todo.push([entry.layer, z]);
    });
    (function next() {
      var job = todo.shift();
      if (!job) return;
      job[0].level(job[1]);
      setTimeout(next, 0);
    })();
  }

  var Scene = L.GridLayer.extend({
    options: { pane: "ssgCustomers", updateWhenZooming: false, keepBuffer: 1 },

    initialize: function (options) {
      L.setOptions(this, options);
      this._members = [];
    },

    show: function (member, on) {
      member._ssgOn = on;
      if (this._members.indexOf(member) < 0) this._members.push(member);
      if (!this._map || this._pending) return;
      var self = this;
      this._pending = true;
      L.Util.requestAnimFrame(function () {
        self._pending = false;
        if (self._map) self.redraw();
      });
    },

    createTile: function (coords) {
      var tile = L.DomUtil.create("canvas", "leaflet-tile");
      var size = this.getTileSize(), ratio = window.devicePixelRatio || 1, ctx = null;
      // the canvas gets its pixels and context only when something is drawn on it
      function context() {
        if (!ctx) {
          tile.width = size.x * ratio;
          tile.height = size.y * ratio;
          ctx = tile.getContext("2d");
          ctx.scale(ratio, ratio);
        }
        return ctx;
      }
      var on = this._members.filter(function (m) {
        return m._ssgOn;
      });
      on.sort(function (a, b) {
        return (a.options.zIndex || 0) - (b.options.zIndex || 0);
      });
      PASSES.forEach(function (pass) {
        on.forEach(function (m) {
          if (m.passes.indexOf(pass) < 0) return;
          m.draw(context, coords, size, pass);
          if (ctx) {
            ctx.globalAlpha = 1;
            ctx.setLineDash([]);
          }
        });
      });
      if (!ctx) tile.width = tile.height = 0;
      return tile;
    },
  });

  // ------------------------------------------------------------------ customers
  // One canvas grid layer per contact category: points are drawn straight onto
  // 256 px canvas tiles from typed arrays (no per-point Leaflet object).
  var PointsLayer = Member.extend({
    passes: [3],
    options: {
      size: 1,
      alpha: 1,
      outline: true,
      square: false,
      edge: null,
    },

    initialize: function (data, options) {
      L.setOptions(this, options);
      this._d = data;
    },

    radius: function (i, z) {
      var d = this._d;
      if (d.n) {
        var r = Math.min(2 + Math.sqrt(d.n[i]), 14);
        return z < 12 ? Math.max(2, r * 0.5) : r;
      }
      var f = this.options.size;
      return f * (z < 11 ? 1.5 : z < 13 ? 2.2 : z < 15 ? 3 : z < 17 ? 4 : 5);
    },

    maxRadius: function (z) {
      return this._d.n ? (z < 12 ? 7 : 14) : this.radius(0, z);
    },

    draw: function (context, coords, size) {
      var d = this.level(coords.z);
      var scale = size.x * Math.pow(2, coords.z);
      var ox = coords.x * size.x, oy = coords.y * size.y;
      var pad = this.maxRadius(coords.z) + 1;
      var lo = lowerBound(d.X, (ox - pad) / scale);
      var hi = lowerBound(d.X, (ox + size.x + pad) / scale);
      if (hi <= lo) return;
      var ctx = context();
      ctx.globalAlpha = this.options.alpha;
      ctx.fillStyle = this.options.color;
      var edge = this.options.edge;
      ctx.strokeStyle = edge || "rgba(255,255,255,0.9)";
      ctx.lineWidth = edge ? 1 : 0.8;
      var outline = edge || (this.options.outline && (d.n || coords.z >= 15));
      var square = this.options.square;
      // one dot per pixel position: at low zoom thousands of customers share a pixel
      var w = size.x + 2 * Math.ceil(pad), seen = d.n ? null : new Uint8Array(w * w);
      var inPath = 0;
      ctx.beginPath();
      for (var i = lo; i < hi; i++) {
        var py = d.Y[i] * scale - oy;
        if (py < -pad || py > size.y + pad) continue;
        var px = d.X[i] * scale - ox;
        if (seen) {
          var cell = Math.round(py + pad) * w + Math.round(px + pad);
          if (seen[cell]) continue;
          seen[cell] = 1;
        }
        var r = this.radius(i, coords.z);
        if (square || r < 2.5) {
          // dots of a few pixels: squares look the same and draw much faster
          ctx.rect(px - r, py - r, 2 * r, 2 * r);
        } else {
          ctx.moveTo(px + r, py);
          ctx.arc(px, py, r, 0, TAU);
        }
        if (++inPath === 512) {
          ctx.fill();
          if (outline) ctx.stroke();
          ctx.beginPath();
          inPath = 0;
        }
      }
      if (inPath) {
        ctx.fill();
        if (outline) ctx.stroke();
      }
    },

    // The points to draw at zoom z: all of them, or where thousands share a pixel
    // (zoom <= LOD_MAX_ZOOM, more than LOD_MIN points) one per LOD_CELL pixels,
    // found once per zoom and kept: a tile then reads thousands of positions, not millions.
    level: function (z) {
      var d = this._d;
      if (d.n || z > LOD_MAX_ZOOM || d.X.length < LOD_MIN) return d;
      this._lod = this._lod || {};
      if (this._lod[z]) return this._lod[z];
      // a pyramid: each level from the one above (a pixel at z + 1 lies in one
      // pixel at z), so only the top level reads every point
      var src = z < LOD_MAX_ZOOM ? this.level(z + 1) : d;
      // cells of LOD_CELL pixels: a dot is at least 3 px wide at these zooms
      var scale = (256 * Math.pow(2, z)) / LOD_CELL, X = src.X, Y = src.Y, n = X.length;
      var outX = [], outY = [], run = -1, seen = null;
      for (var i = 0; i < n; i++) {
        var px = Math.floor(X[i] * scale), py = Math.floor(Y[i] * scale);
        if (px !== run) {
          run = px;
          seen = new Set();
        }
        if (seen.has(py)) continue;
        seen.add(py);
        outX.push((px + 0.5) / scale);
        outY.push((py + 0.5) / scale);
      }
      this._lod[z] = { X: Float64Array.from(outX), Y: Float64Array.from(outY), n: null };
      return this._lod[z];
    },

    // indices of the points within `tol` pixels (or their own radius) of latlng
    hits: function (map, latlng, tol) {
      var z = map.getZoom(), scale = map.options.crs.scale(z);
      var p = map.project(latlng, z), d = this._d, out = [];
      var reach = Math.max(tol, this.maxRadius(Math.round(z)));
      var lo = lowerBound(d.X, (p.x - reach) / scale);
      var hi = lowerBound(d.X, (p.x + reach) / scale);
      for (var i = lo; i < hi; i++) {
        var dx = d.X[i] * scale - p.x, dy = d.Y[i] * scale - p.y;
        var r = Math.max(tol, this.radius(i, Math.round(z)));
        if (dx * dx + dy * dy <= r * r) out.push(i);
      }
      return out;
    },
  });

  SSG.points = function (spec) {
    var t0 = Date.now();
    var ll = decode(spec.xy, spec.origin, spec.scale);
    var n = ll[0].length;
    var X0 = new Float64Array(n), Y0 = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      X0[i] = mercX(ll[0][i]);
      Y0[i] = mercY(ll[1][i]);
    }
    var order = sortedByX(X0);
    var X = new Float64Array(n), Y = new Float64Array(n);
    var counts = spec.n ? new Int32Array(n) : null;
    var labels = spec.labels ? new Array(n) : null;
    var reasons = spec.reasons ? new Array(n) : null;
    var rest = spec.rest || [];
    for (var j = 0; j < n; j++) {
      X[j] = X0[order[j]];
      Y[j] = Y0[order[j]];
      if (counts) counts[j] = spec.n[order[j]];
      if (labels) {
        var tail = spec.ri ? rest[spec.ri[order[j]]] : "";
        labels[j] = spec.labels[order[j]] + (tail ? ", " + tail : "");
      }
      if (reasons) {
        var w = spec.wi[order[j]];
        reasons[j] = w >= 0 ? spec.reasons[w] : null;
      }
    }
    var total = n;
    if (counts) {
      total = 0;
      for (var k = 0; k < n; k++) total += counts[k];
    }
    var layer = new PointsLayer(
      { X: X, Y: Y, n: counts, labels: labels, reasons: reasons },
      {
        color: colour(spec.color),
        square: spec.shape === "square",
        edge: spec.edge ? colour(spec.edge) : null,
        outline: spec.outline !== false,
        zIndex: spec.z,
        size: spec.size || 1,
        alpha: spec.alpha || 1,
      }
    );
    register(spec.key, "points", total, layer, {
      label: spec.label,
      markers: n,
      cell: spec.cell || null,
      ms: Date.now() - t0,
    });
    return layer;
  };

  // The popup of the customer dots under a click; false when there are none.
  function customerPopup(e) {
    var map = SSG.map, found = [];
    Object.keys(SSG.registry).forEach(function (key) {
      var entry = SSG.registry[key];
      if (entry.kind !== "points" || !map.hasLayer(entry.layer)) return;
      entry.layer.hits(map, e.latlng, 6).forEach(function (i) {
        found.push({ entry: entry, i: i });
      });
    });
    if (!found.length) return false;
    var box = el("div", "ssg-popup ssg-customers");
    var byLabel = {}, names = [], total = 0, cell = null;
    found.forEach(function (h) {
      var d = h.entry.layer._d, c = d.n ? d.n[h.i] : 1;
      if (!(h.entry.label in byLabel)) {
        byLabel[h.entry.label] = 0;
        names.push(h.entry.label);
      }
      byLabel[h.entry.label] += c;
      total += c;
      if (h.entry.cell) cell = h.entry.cell;
    });
    box.appendChild(el("b", null, fmt(total) + (total === 1 ? " customer" : " customers")));
    if (cell) box.appendChild(el("div", "ssg-note", "in a " + cell + " m square"));
    box.appendChild(
      table(
        names.map(function (name) {
          return [name, fmt(byLabel[name])];
        })
      )
    );
    var withLabels = found.filter(function (h) {
      return h.entry.layer._d.labels;
    });
    if (withLabels.length) {
      var list = el("ul", "ssg-addresses");
      withLabels.slice(0, 30).forEach(function (h) {
        var d = h.entry.layer._d;
        var li = el("li", null, d.labels[h.i] + " \u2014 " + h.entry.label);
        if (d.reasons && d.reasons[h.i]) li.appendChild(el("div", "ssg-reason", d.reasons[h.i]));
        list.appendChild(li);
      });
      if (withLabels.length > 30) list.appendChild(el("li", null, "\u2026 and " + (withLabels.length - 30) + " more"));
      box.appendChild(list);
    }
    L.popup({ maxWidth: 360 }).setLatLng(e.latlng).setContent(box).openOn(map);
    return true;
  }

  // ------------------------------------------------------------------ circuits
  // One canvas grid layer per line style: circuits (or open-point rings) drawn
  // onto tiles from typed arrays, in chunks of at most CHUNK segments with their
  // bounding boxes (sorted by west edge), so that a tile touches only the
  // chunks it shows; vertices less than a pixel apart are skipped when drawing.
  var CHUNK = 32;
  var LinesLayer = Member.extend({
    passes: [1],

    initialize: function (spec, options) {
      L.setOptions(this, options);
      this._spec = spec;
      var chunks = [], wide = 0;
      spec.items.forEach(function (item, owner) {
        item.parts.forEach(function (flat) {
          var ll = decode(flat, spec.origin, spec.scale), n = ll[0].length;
          var x = new Float64Array(n), y = new Float64Array(n);
          for (var v = 0; v < n; v++) {
            x[v] = mercX(ll[0][v]);
            y[v] = mercY(ll[1][v]);
          }
          for (var s = 0; s < Math.max(n - 1, 1); s += CHUNK) {
            var e = Math.min(s + CHUNK, n - 1), c = { owner: owner, x: x, y: y, s: s, e: e };
            c.x0 = c.x1 = x[s];
            c.y0 = c.y1 = y[s];
            for (var k = s + 1; k <= e; k++) {
              if (x[k] < c.x0) c.x0 = x[k];
              if (x[k] > c.x1) c.x1 = x[k];
              if (y[k] < c.y0) c.y0 = y[k];
              if (y[k] > c.y1) c.y1 = y[k];
            }
            wide = Math.max(wide, c.x1 - c.x0);
            chunks.push(c);
          }
        });
      });
      chunks.sort(function (a, b) {
        return a.x0 - b.x0;
      });
      this._chunks = chunks;
      this._west = new Float64Array(chunks.length);
      for (var i = 0; i < chunks.length; i++) this._west[i] = chunks[i].x0;
      this._wide = wide;
      this._colour = colour(spec.color);
    },

    // chunks whose box comes within `pad` world units of [x0, x1] x [y0, y1]
    near: function (x0, y0, x1, y1, pad, fn) {
      var c = this._chunks, lo = lowerBound(this._west, x0 - pad - this._wide);
      var hi = lowerBound(this._west, x1 + pad);
      for (var i = lo; i < hi; i++) {
        var k = c[i];
        if (k.x1 < x0 - pad || k.y1 < y0 - pad || k.y0 > y1 + pad) continue;
        fn(k);
      }
    },

    draw: function (context, coords, size) {
      var spec = this._spec, scale = size.x * Math.pow(2, coords.z);
      var ox = coords.x * size.x, oy = coords.y * size.y;
      var width = spec.weight || 1.5, ctx = null;
      var pad = ((spec.ring || 0) + width + 2) / scale;
      var rings = spec.ring ? [] : null, count = 0, colour = this._colour;
      var far = coords.z <= 12;
      var skip = coords.z <= 11 ? 2 : far ? 1.5 : 1; // px: shorter steps are not drawn
      var seen = far && !rings ? new Uint8Array(272 * 272) : null, dots = [];
      // open points: from street zooms (plan points, a few, at every zoom)
      if (rings && coords.z < RING_MIN_ZOOM && spec.always !== true) return;
      this.near(ox / scale, oy / scale, (ox + size.x) / scale, (oy + size.y) / scale, pad, function (k) {
        if (!ctx) {
          ctx = context();
          ctx.strokeStyle = colour;
          // zoomed out, where a tile holds thousands of cables: opaque, thinner,
          // plain joins (round joins and transparency make drawing several times slower)
          ctx.globalAlpha = far ? 1 : spec.opacity || 1;
          ctx.lineWidth = far ? Math.min(width, 1.5) : width;
          ctx.lineJoin = far ? "bevel" : "round";
          ctx.lineCap = far ? "butt" : "round";
          ctx.beginPath();
        }
        if (rings) {
          rings.push([k.x[k.s] * scale - ox, k.y[k.s] * scale - oy]);
          return;
        }
        var lx = k.x[k.s] * scale - ox, ly = k.y[k.s] * scale - oy;
        if (seen && (k.x1 - k.x0) * scale < skip && (k.y1 - k.y0) * scale < skip) {
          // a piece of cable shorter than a step: one dot per pixel, not a path
          var cx = Math.round(lx) + 8, cy = Math.round(ly) + 8;
          if (cx < 0 || cy < 0 || cx >= 272 || cy >= 272 || seen[cy * 272 + cx]) return;
          seen[cy * 272 + cx] = 1;
          dots.push(lx, ly);
          return;
        }
        ctx.moveTo(lx, ly);
        for (var v = k.s + 1; v <= k.e; v++) {
          var px = k.x[v] * scale - ox, py = k.y[v] * scale - oy;
          if (v < k.e && Math.abs(px - lx) < skip && Math.abs(py - ly) < skip) continue;
          ctx.lineTo(px, py);
          lx = px;
          ly = py;
        }
        if (++count === 256) {
          ctx.stroke();
          ctx.beginPath();
          count = 0;
        }
      });
      if (!ctx) return;
      if (dots.length) {
        ctx.fillStyle = colour;
        var half = ctx.lineWidth / 2;
        for (var d = 0; d < dots.length; d += 2) ctx.rect(dots[d] - half, dots[d + 1] - half, 2 * half, 2 * half);
        ctx.fill();
      }
      if (rings) {
        ctx.fillStyle = "#fff";
        rings.forEach(function (p) {
          ctx.moveTo(p[0] + spec.ring, p[1]);
          ctx.arc(p[0], p[1], spec.ring, 0, TAU);
        });
        if (spec.hollow !== true) ctx.fill(); // plan rings circle an icon: not filled
      }
      ctx.stroke();
    },

    // the item nearest to a container point, within `tol` pixels, or -1
    hit: function (map, point, tol) {
      var z = map.getZoom(), scale = 256 * Math.pow(2, z);
      var w = map.project(map.containerPointToLatLng(point), z);
      var px = w.x / scale, py = w.y / scale, t = (tol + (this._spec.ring || 0)) / scale;
      var best = -1, bestD = t * t;
      this.near(px, py, px, py, t, function (k) {
        for (var v = k.s; v <= k.e; v++) {
          var ax = k.x[v], ay = k.y[v], d;
          var bx = v < k.e ? k.x[v + 1] : ax, by = v < k.e ? k.y[v + 1] : ay;
          var dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy;
          var u = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
          var cx = ax + u * dx - px, cy = ay + u * dy - py;
          d = cx * cx + cy * cy;
          if (d < bestD) {
            bestD = d;
            best = k.owner;
          }
        }
      });
      return best;
    },
  });

  function lineTip(spec, item) {
    var box = el("div", "ssg-tip");
    box.appendChild(el("b", null, item.label));
    if (spec.note) box.appendChild(el("div", null, spec.note));
    return box;
  }

  SSG.lines = function (spec) {
    var layer = new LinesLayer(spec, { zIndex: spec.ring ? 2 : 1 });
    var parts = 0;
    spec.items.forEach(function (item) {
      parts += item.parts.length;
    });
    register(spec.key, "lines", spec.items.length, layer, { parts: parts, items: spec.items, spec: spec });
    return layer;
  };

  // The hover tooltip of item `i` of line layer `key` (a circuit or an open point).
  SSG.lineTip = function (key, i) {
    var entry = SSG.registry[key];
    return lineTip(entry.spec, entry.items[i]);
  };

  // A line under a container point, topmost layer first: [entry, item index] or null.
  function lineAt(point) {
    var map = SSG.map, keys = Object.keys(SSG.registry).reverse();
    for (var k = 0; k < keys.length; k++) {
      var entry = SSG.registry[keys[k]];
      if (entry.kind !== "lines" || !map.hasLayer(entry.layer)) continue;
      var i = entry.layer.hit(map, point, 4);
      if (i >= 0) return [entry, i];
    }
    return null;
  }

  // ------------------------------------------------------------------ substations
  SSG.substations = function (spec) {
    var group = L.featureGroup();
    var icon = L.divIcon({ className: "ssg-sub", iconSize: [10, 10], iconAnchor: [5, 5] });
    spec.items.forEach(function (item) {
      // clicks go on to the map (the equipment drawn over a substation answers them)
      var m = L.marker([item.lat, item.lon], { icon: icon, keyboard: false, bubblingMouseEvents: true });
      m.bindTooltip(function () {
        var box = el("div", "ssg-tip");
        box.appendChild(el("b", null, item.name || item.id));
        if (item.name) box.appendChild(el("div", null, "substation " + item.id));
        return box;
      });
      group.addLayer(m);
    });
    register(spec.key, "substations", spec.items.length, group);
    return group;
  };

  // ------------------------------------------------------------------ equipment
  function equipmentPopup(item, spec) {
    var box = el("div", "ssg-popup ssg-equipment");
    box.appendChild(el("b", null, item.id));
    var rows = [
      ["Kind", spec.label],
      ["Install date", item.date || "not given"],
      ["Radius", item.r === null ? "none" : fmt(item.r) + " m"],
      [
        "Customers within radius",
        item.n === null ? "not computed (run a campaign)" : fmt(item.n),
      ],
    ];
    if (item.circuit) rows.push(["Circuit", item.circuit]);
    if (item.substation) rows.push(["Substation", item.substation]);
    if (item.outage !== null) rows.push(["Outage required", item.outage ? "yes" : "no"]);
    box.appendChild(table(rows));
    return box;
  }

  function roundRect(ctx, x, y, w, h, r) {
    ctx.moveTo(x + r, y);
    ctx.arcTo(x + w, y, x + w, y + h, r);
    ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r);
    ctx.arcTo(x, y, x + w, y, r);
    ctx.closePath();
  }

  // One canvas grid layer per equipment kind: icons, radius circles, zones and
  // routes drawn onto 256 px tiles (no DOM element per item). Icons closer than
  // CELL pixels at the current zoom are drawn once, with their number.
  var EquipmentLayer = Member.extend({
    passes: [2, 4], // radius zones under the customers, icons over them

    initialize: function (spec, options) {
      L.setOptions(this, options);
      this._spec = spec;
      var items = spec.items, n = items.length, order = new Array(n);
      var X0 = new Float64Array(n), Y0 = new Float64Array(n), R0 = new Float64Array(n);
      var reach = 0;
      for (var i = 0; i < n; i++) {
        var it = items[i];
        X0[i] = mercX(it.lon);
        Y0[i] = mercY(it.lat);
        // radius in world units (0..1) at the item's latitude
        var k = 1 / (EARTH_M * Math.cos((it.lat * Math.PI) / 180));
        R0[i] = it.r === null || it.zone ? 0 : it.r * k;
        var far = R0[i];
        it._rings = [];
        (it.zone || []).concat(it.shape || []).forEach(function (ring, j, all) {
          var ll = decode(ring, spec.origin, spec.scale), rx = [], ry = [];
          for (var v = 0; v < ll[0].length; v++) {
            rx.push(mercX(ll[0][v]));
            ry.push(mercY(ll[1][v]));
            far = Math.max(far, Math.abs(rx[v] - X0[i]), Math.abs(ry[v] - Y0[i]));
          }
          it._rings.push({ x: rx, y: ry, zone: j < (it.zone || []).length });
        });
        reach = Math.max(reach, far);
        order[i] = i;
      }
      order.sort(function (a, b) {
        return X0[a] - X0[b] || a - b;
      });
      this._X = new Float64Array(n);
      this._Y = new Float64Array(n);
      this._R = new Float64Array(n);
      for (var j = 0; j < n; j++) {
        this._X[j] = X0[order[j]];
        this._Y[j] = Y0[order[j]];
        this._R[j] = R0[order[j]];
      }
      this._order = order; // sorted position -> item index
      this._reach = reach;
      this._colour = colour(spec.color);
      this._glyph = typeof Path2D === "function" ? new Path2D(String(spec.glyph || "")) : null;
      var off = [[-11, -11], [11, -11], [-11, 11], [11, 11]][Number(spec.index) % 4] || [0, 0];
      this._offset = off;
    },

    // Groups of items (sorted positions) drawn as one icon at zoom z, within
    // `pad` world pixels of the box [x0, x1] x [y0, y1] (world pixels at z).
    groups: function (z, x0, y0, x1, y1, pad) {
      var scale = 256 * Math.pow(2, z), X = this._X, Y = this._Y;
      var lo = lowerBound(X, (x0 - pad) / scale), hi = lowerBound(X, (x1 + pad) / scale);
      var cells = {}, out = [];
      for (var i = lo; i < hi; i++) {
        var py = Y[i] * scale;
        if (py < y0 - pad || py > y1 + pad) continue;
        var px = X[i] * scale;
        var key = Math.floor(px / CELL) + ":" + Math.floor(py / CELL);
        var g = cells[key];
        if (!g) {
          g = cells[key] = { items: [], x: 0, y: 0 };
          out.push(g);
        }
        g.items.push(i);
        g.x += px;
        g.y += py;
      }
      var off = this._offset;
      out.forEach(function (g) {
        var k = g.items.length;
        g.x /= k;
        g.y /= k;
        if (k > 1) {
          g.x += off[0];
          g.y += off[1];
        }
      });
      return out;
    },

    draw: function (context, coords, size, pass) {
      var z = coords.z, scale = size.x * Math.pow(2, z);
      var ox = coords.x * size.x, oy = coords.y * size.y;
      if (pass === 2) return this._areasOn(context, z, scale, ox, oy, size);
      var groups = this.groups(z, ox, oy, ox + size.x, oy + size.y, CELL + ICON);
      if (!groups.length) return;
      var ctx = context();
      for (var g = 0; g < groups.length; g++) {
        var grp = groups[g];
        this._icon(ctx, grp.x - ox, grp.y - oy, grp.items.length);
      }
    },

    // radius circles, zones and routes of the items near the tile
    _areasOn: function (context, z, scale, ox, oy, size) {
      var pad = this._reach * scale + 4;
      if (pad > 4096) pad = 4096;
      var X = this._X, Y = this._Y, R = this._R, items = this._spec.items;
      var lo = lowerBound(X, (ox - pad) / scale), hi = lowerBound(X, (ox + size.x + pad) / scale);
      if (hi <= lo) return;
      var ctx = context();
      ctx.strokeStyle = this._colour;
      ctx.fillStyle = this._colour;
      for (var i = lo; i < hi; i++) {
        var py = Y[i] * scale - oy;
        if (py < -pad || py > size.y + pad) continue;
        var px = X[i] * scale - ox, r = R[i] * scale;
        if (r >= 2) {
          ctx.beginPath();
          ctx.arc(px, py, r, 0, TAU);
          ctx.globalAlpha = 0.08;
          ctx.fill();
          ctx.globalAlpha = 1;
          ctx.setLineDash([4, 3]);
          ctx.lineWidth = 1.5;
          ctx.stroke();
          ctx.setLineDash([]);
        }
        var rings = items[this._order[i]]._rings;
        for (var k = 0; k < rings.length; k++) {
          var ring = rings[k];
          ctx.beginPath();
          for (var v = 0; v < ring.x.length; v++) {
            var vx = ring.x[v] * scale - ox, vy = ring.y[v] * scale - oy;
            if (v) ctx.lineTo(vx, vy);
            else ctx.moveTo(vx, vy);
          }
          if (ring.zone) {
            ctx.globalAlpha = 0.08;
            ctx.fill();
            ctx.globalAlpha = 1;
            ctx.setLineDash([4, 3]);
            ctx.lineWidth = 1.5;
            ctx.stroke();
            ctx.setLineDash([]);
          } else {
            ctx.lineWidth = 3;
            ctx.stroke();
          }
        }
      }
    },

    _icon: function (ctx, x, y, count) {
      var s = ICON / 22;
      ctx.save();
      ctx.translate(x - ICON / 2, y - ICON / 2);
      ctx.scale(s, s);
      ctx.beginPath();
      roundRect(ctx, 1, 1, 20, 20, 4);
      ctx.shadowColor = "rgba(0,0,0,0.55)";
      ctx.shadowBlur = 2;
      ctx.fillStyle = "#fff";
      ctx.fill();
      ctx.shadowColor = "transparent";
      ctx.lineWidth = 2;
      ctx.strokeStyle = this._colour;
      ctx.stroke();
      if (this._glyph) {
        ctx.lineWidth = 1.7;
        ctx.lineCap = "round";
        ctx.stroke(this._glyph);
      }
      ctx.restore();
      if (count > 1) {
        var text = count > 999 ? Math.round(count / 1000) + "k" : String(count);
        ctx.font = "bold 10px sans-serif";
        var w = Math.max(14, ctx.measureText(text).width + 6);
        var bx = x + ICON / 2 - 4, by = y - ICON / 2 - 3;
        ctx.beginPath();
        roundRect(ctx, bx - w / 2, by - 7, w, 14, 7);
        ctx.fillStyle = this._colour;
        ctx.fill();
        ctx.fillStyle = "#fff";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(text, bx, by + 0.5);
      }
    },

    // the group under a container point, or null
    hit: function (map, point) {
      var z = map.getZoom(), half = ICON / 2 + 2;
      if (z !== Math.round(z)) return null;
      var w = map.project(map.containerPointToLatLng(point), z), wx = w.x, wy = w.y;
      var groups = this.groups(z, wx, wy, wx, wy, CELL + ICON), best = null, bestD = Infinity;
      for (var g = 0; g < groups.length; g++) {
        var dx = groups[g].x - wx, dy = groups[g].y - wy;
        if (Math.abs(dx) > half || Math.abs(dy) > half) continue;
        var d = dx * dx + dy * dy;
        if (d < bestD) {
          bestD = d;
          best = groups[g];
        }
      }
      if (!best) return null;
      var self = this;
      return best.items.map(function (i) {
        return self._order[i];
      });
    },
  });

  SSG.equipment = function (spec) {
    var layer = new EquipmentLayer(spec, { zIndex: 10 + Number(spec.index || 0) });
    register(spec.key, "equipment", spec.items.length, layer, { label: spec.label, items: spec.items, spec: spec });
    return layer;
  };

  function equipmentTip(entry, items) {
    if (items.length === 1) return el("span", null, entry.items[items[0]].id + " \u2014 " + entry.label);
    return el("span", null, fmt(items.length) + " \u00d7 " + entry.label + " (click to zoom in)");
  }

  // Open the popup of item `i` of equipment layer `key` (search, tests).
  SSG.openEquipment = function (key, i) {
    var entry = SSG.registry[key], item = entry && entry.items[i];
    if (!item) return null;
    return L.popup({ maxWidth: 320, offset: [0, -8] })
      .setLatLng([item.lat, item.lon])
      .setContent(equipmentPopup(item, entry.spec))
      .openOn(SSG.map);
  };

  // The tooltip text of item `i` of equipment layer `key`, as the page shows it on hover.
  SSG.equipmentTip = function (key, i) {
    return equipmentTip(SSG.registry[key], [i]).textContent;
  };

  // Equipment under a container point, topmost kind first: [entry, key, items] or null.
  function equipmentAt(point) {
    var map = SSG.map, keys = Object.keys(SSG.registry).reverse();
    for (var k = 0; k < keys.length; k++) {
      var entry = SSG.registry[keys[k]];
      if (entry.kind !== "equipment" || !map.hasLayer(entry.layer)) continue;
      var items = entry.layer.hit(map, point);
      if (items) return [entry, keys[k], items];
    }
    return null;
  }

  function onMapClick(e) {
    var map = SSG.map;
    if (SSG.measuring) return measureClick(e);
    var found = equipmentAt(e.containerPoint || map.latLngToContainerPoint(e.latlng));
    if (found) {
      var entry = found[0], items = found[2];
      if (items.length === 1) return SSG.openEquipment(found[1], items[0]);
      var b = L.latLngBounds(
        items.map(function (i) {
          return [entry.items[i].lat, entry.items[i].lon];
        })
      );
      if (b.getNorthEast().equals(b.getSouthWest()) || map.getZoom() >= map.getMaxZoom()) {
        var box = el("div", "ssg-popup ssg-equipment");
        box.appendChild(el("b", null, fmt(items.length) + " \u00d7 " + entry.label + " here"));
        var list = el("ul", "ssg-addresses");
        items.slice(0, 30).forEach(function (i) {
          list.appendChild(el("li", null, entry.items[i].id));
        });
        box.appendChild(list);
        L.popup({ maxWidth: 320 }).setLatLng(b.getCenter()).setContent(box).openOn(map);
      } else map.fitBounds(b, { padding: [60, 60], maxZoom: Math.min(map.getZoom() + 4, 19) });
      return;
    }
    customerPopup(e);
  }

  var tip = null, pending = null;
  function onMouseMove(e) {
    pending = e.containerPoint;
    if (tip === false) return;
    L.Util.requestAnimFrame(function () {
      var p = pending, map = SSG.map;
      pending = null;
      if (!p) return;
      var found = SSG.measuring ? null : equipmentAt(p);
      var line = found || SSG.measuring ? null : lineAt(p);
      map.getContainer().classList.toggle("ssg-pointer", !!found);
      if (!found && !line) {
        if (tip) map.closeTooltip(tip);
        return;
      }
      if (!tip) tip = L.tooltip({ direction: "right", offset: [12, 0] });
      var content = found ? equipmentTip(found[0], found[2]) : lineTip(line[0].spec, line[0].items[line[1]]);
      tip.setLatLng(map.containerPointToLatLng(p)).setContent(content);
      if (!map.hasLayer(tip)) tip.addTo(map);
    });
  }

  // ------------------------------------------------------------------ areas
  // One card per area (name and counts) at low zoom, where dots and icons are
  // too small to read; a click on a card zooms to the area.
  function areas(map, list) {
    var group = L.layerGroup();
    list.forEach(function (area) {
      var card = el("div", "ssg-area-card");
      card.appendChild(el("b", null, area.name));
      card.appendChild(table(area.rows.map(function (row) {
        return [row[0], fmt(row[1])];
      })));
      // the card sits north-east of the area, so that the area's network stays in view
      var icon = L.divIcon({ className: "ssg-area", html: card, iconSize: null, iconAnchor: [0, 0] });
      var corner = [area.bounds[1][0], area.bounds[1][1]];
      var m = L.marker(corner, { icon: icon, pane: "ssgAreas", keyboard: false, title: "" });
      m.on("click", function () {
        map.fitBounds(area.bounds, { padding: [24, 24], maxZoom: 17 });
      });
      group.addLayer(m);
    });
    var pane = map.getPane("ssgAreas");
    function show() {
      pane.style.display = map.getZoom() <= AREA_MAX_ZOOM ? "" : "none";
      if (map.getZoom() <= AREA_MAX_ZOOM) declutter(group);
    }
    map.on("zoomend", show);
    group.on("add", function () {
      L.Util.requestAnimFrame(show);
    });
    if (list.length) group.addTo(map);
    register("areas", "areas", list.length, group, { areas: list });
    SSG.areas = list;
  }

  // Move cards that would cover one another down, below the one above them
  // (largest first); a card pushed more than 240 px from its area is hidden.
  function declutter(group) {
    var cards = [];
    group.eachLayer(function (m) {
      var card = m._icon && m._icon.firstChild;
      if (!card) return;
      card.style.marginTop = "0px";
      card.style.display = "";
      var r = card.getBoundingClientRect();
      cards.push({ card: card, x: r.left, y: r.top, w: r.width, h: r.height });
    });
    cards.sort(function (a, b) {
      return a.y - b.y || a.x - b.x;
    });
    var placed = [];
    cards.forEach(function (c) {
      var y = c.y, moved = true;
      while (moved) {
        moved = false;
        for (var i = 0; i < placed.length; i++) {
          var p = placed[i];
          if (c.x < p.x + p.w && p.x < c.x + c.w && y < p.y + p.h + 4 && p.y < y + c.h) {
            y = p.y + p.h + 4;
            moved = true;
          }
        }
      }
      if (y - c.y > 240) {
        c.card.style.display = "none";
        return;
      }
      c.card.style.marginTop = y - c.y + "px";
      placed.push({ x: c.x, y: y, w: c.w, h: c.h });
    });
  }

  // ------------------------------------------------------------------ legend = layer control
  // The legend lists every layer with its key and count; its check boxes show
  // and hide the layers (there is no second, Leaflet layer control). Folded on
  // small screens; the title folds and unfolds it.
  function legend(map, spec, icons) {
    SSG.legendControl = control(map, "topright", function () {
      var outer = el("div", "ssg-legend leaflet-control");
      var box = el("details");
      box.open = window.innerHeight >= 700 && window.innerWidth >= 700;
      box.appendChild(el("summary", "ssg-legend-title", spec.title || "Legend"));
      var body = el("div", "ssg-legend-body");
      box.appendChild(body);
      outer.appendChild(box);
      var sections = spec.sections.slice();
      if (SSG.areas && SSG.areas.length) {
        sections.push({
          title: "Overview",
          rows: [{ key: "areas", label: "Area summaries (zoomed out)", count: SSG.areas.length, square: true, color: "#ffffff" }],
        });
      }
      sections.forEach(function (section) {
        if (!section.rows.length) return;
        body.appendChild(el("h4", null, section.title));
        section.rows.forEach(function (row) {
          var entry = row.key ? SSG.registry[row.key] : null;
          var line = el(entry ? "label" : "div", "ssg-legend-row");
          if (entry) {
            var box = el("input");
            box.type = "checkbox";
            box.checked = map.hasLayer(entry.layer);
            L.DomEvent.on(box, "change", function () {
              if (box.checked) entry.layer.addTo(map);
              else map.removeLayer(entry.layer);
            });
            line.appendChild(box);
          }
          line.appendChild(keyElement(row, icons, "ssg-legend-icon"));
          line.appendChild(
            el("span", "ssg-layer-label", row.label + (row.count === undefined ? "" : " (" + fmt(row.count) + ")"))
          );
          body.appendChild(line);
        });
      });
      (spec.notes || []).forEach(function (note) {
        body.appendChild(el("div", "ssg-note", note));
      });
      return outer;
    });
  }

  // ------------------------------------------------------------------ fullscreen, measuring
  function button(bar, text, title, onClick) {
    var a = el("a", "ssg-button", text);
    a.href = "#";
    a.title = title;
    a.setAttribute("role", "button");
    a.setAttribute("aria-label", title);
    L.DomEvent.on(a, "click", function (e) {
      L.DomEvent.preventDefault(e);
      onClick(a);
    });
    bar.appendChild(a);
    return a;
  }

  function tools(map) {
    control(map, "topleft", function () {
      var bar = el("div", "leaflet-bar ssg-tools");
      SSG.fullscreenButton = button(bar, "", "Full screen", function () {
        SSG.fullscreen();
      });
      SSG.measureButton = button(bar, "\u21a6", "Measure a distance (click points; double-click or Esc ends)", function () {
        SSG.measure(!SSG.measuring);
      });
      SSG.fullscreenButton.appendChild(el("span", "ssg-fs-icon"));
      return bar;
    });
    L.DomEvent.on(document, "keydown", function (e) {
      if (e.key === "Escape" && SSG.measuring) SSG.measure(false);
    });
    L.DomEvent.on(document, "fullscreenchange", function () {
      map.invalidateSize();
    });
  }

  // Full screen with the Fullscreen API, or a page-filling map where there is none.
  SSG.fullscreen = function () {
    var node = SSG.map.getContainer();
    if (document.fullscreenElement) document.exitFullscreen();
    else if (node.requestFullscreen && !node.classList.contains("ssg-fullscreen")) {
      node.requestFullscreen().catch(function () {
        node.classList.toggle("ssg-fullscreen");
        SSG.map.invalidateSize();
      });
    } else {
      node.classList.toggle("ssg-fullscreen");
      SSG.map.invalidateSize();
    }
  };

  var measured = null;
  SSG.measure = function (on) {
    var map = SSG.map;
    SSG.measuring = !!on;
    map.getContainer().classList.toggle("ssg-measuring", SSG.measuring);
    if (SSG.measureButton) SSG.measureButton.classList.toggle("ssg-active", SSG.measuring);
    if (SSG.measuring) {
      map.doubleClickZoom.disable();
      if (measured) measured.line.remove();
      measured = { points: [], line: L.polyline([], { color: "#111111", weight: 2.5, dashArray: "6 4", interactive: false }).addTo(map) };
      map.closePopup();
    } else {
      map.doubleClickZoom.enable();
    }
    return SSG.measuring;
  };

  function measureClick(e) {
    var map = SSG.map;
    measured.points.push(e.latlng);
    measured.line.setLatLngs(measured.points);
    var total = SSG.measured();
    measured.line.bindTooltip(el("span", null, distanceText(total)), { permanent: true, direction: "right", offset: [8, 0] });
    measured.line.openTooltip(e.latlng);
    if (e.originalEvent && e.originalEvent.detail >= 2) SSG.measure(false);
    return total;
  }

  // Length of the measured line in metres (0 before two points).
  SSG.measured = function () {
    var total = 0, p = measured ? measured.points : [];
    for (var i = 1; i < p.length; i++) total += SSG.map.distance(p[i - 1], p[i]);
    return total;
  };

  // ------------------------------------------------------------------ search
  function norm(s) {
    return String(s).toUpperCase().replace(/\s+/g, "");
  }
  var FULL_POSTCODE = /^([A-Z0-9]{2,4})([0-9])[A-Z]{2}$/;

  // Entries: [kind, label, lat, lon, ...]: equipment (layer key, index),
  // circuit (bounds), substation, postcode / postcode sector (customers), area.
  function searchIndex(spec) {
    var out = (spec.search || []).map(function (e) {
      return { kind: e[0], label: String(e[1]), lat: e[2], lon: e[3], extra: e.slice(4), key: norm(e[1]) };
    });
    (spec.areas || []).forEach(function (a) {
      out.push({ kind: "area", label: a.name, lat: a.centre[0], lon: a.centre[1], extra: [a.bounds], key: norm(a.name) });
    });
    return out;
  }

  // Entries matching a query, best first: exact, then prefix, then substring.
  SSG.find = function (query, limit) {
    var q = norm(query), index = SSG.searchIndex || [], exact = [], prefix = [], inner = [];
    if (!q) return [];
    index.forEach(function (e) {
      var at = e.key.indexOf(q);
      if (at < 0) return;
      (e.key === q ? exact : at === 0 ? prefix : inner).push(e);
    });
    var found = exact.concat(prefix, inner);
    if (!found.length) {
      // a full postcode on a map that only knows sectors: its sector
      var m = FULL_POSTCODE.exec(q);
      if (m) return SSG.find(m[1] + m[2], limit);
    }
    return found.slice(0, limit || 12);
  };

  var found = null;
  SSG.go = function (entry) {
    var map = SSG.map;
    if (found) found.remove();
    found = null;
    if (entry.kind === "circuit" || entry.kind === "area") {
      map.fitBounds(entry.extra[0], { padding: [40, 40], maxZoom: 18, animate: false });
    } else {
      var z = entry.kind === "equipment" ? 18 : entry.kind === "postcode sector" ? 15 : 17;
      map.setView([entry.lat, entry.lon], z, { animate: false });
    }
    if (entry.kind === "equipment") SSG.openEquipment(entry.extra[0], entry.extra[1]);
    else if (entry.kind !== "area") {
      found = L.circleMarker([entry.lat, entry.lon], {
        renderer: SSG.lineRenderer, radius: 14, color: "#111111", weight: 3, fill: false, dashArray: "4 3",
      }).addTo(map);
      var label = entry.label + (entry.kind.indexOf("postcode") === 0 ? " (" + fmt(entry.extra[0]) + " customers)" : "");
      found.bindTooltip(el("span", null, label), { permanent: true, direction: "right", offset: [14, 0] }).openTooltip();
    }
    return entry;
  };

  function search(map, spec) {
    SSG.searchIndex = searchIndex(spec);
    if (!SSG.searchIndex.length) return;
    control(map, "topleft", function () {
      var box = el("div", "ssg-search leaflet-bar");
      var input = el("input");
      input.type = "search";
      input.placeholder = "Search postcode, equipment, circuit\u2026";
      input.setAttribute("aria-label", "Search postcode, equipment id, circuit, substation or area");
      var list = el("ul", "ssg-results");
      box.appendChild(input);
      box.appendChild(list);
      function show() {
        list.textContent = "";
        SSG.find(input.value, 12).forEach(function (entry) {
          var li = el("li");
          var b = el("button", null, entry.label);
          b.type = "button";
          b.appendChild(el("small", null, " " + entry.kind));
          L.DomEvent.on(b, "click", function (e) {
            L.DomEvent.stop(e);
            SSG.go(entry);
            // emptied after the click has passed: Leaflet decides whether a click is
            // the map's by the clicked element's ancestors, which a removed one lacks
            setTimeout(function () {
              list.textContent = "";
            }, 0);
          });
          li.appendChild(b);
          list.appendChild(li);
        });
        if (input.value && !list.childNodes.length) list.appendChild(el("li", "ssg-note", "nothing found"));
      }
      L.DomEvent.on(input, "input", show);
      L.DomEvent.on(input, "keydown", function (e) {
        if (e.key === "Enter") {
          var hit = SSG.find(input.value, 1)[0];
          if (hit) {
            SSG.go(hit);
            list.textContent = "";
          }
        } else if (e.key === "Escape") {
          input.value = "";
          list.textContent = "";
        }
      });
      SSG.searchInput = input;
      return box;
    });
  }

  // ------------------------------------------------------------------ bookmarks
  function bookmarks(map, spec) {
    var marks = [];
    (spec.areas || []).forEach(function (a) {
      marks.push({ group: "Areas", label: a.name, bounds: a.bounds });
    });
    (spec.bookmarks || []).forEach(function (b) {
      marks.push({ group: "Substations", label: b.label, lat: b.lat, lon: b.lon });
    });
    SSG.bookmarks = marks;
    if (!marks.length) return;
    control(map, "topleft", function () {
      var select = el("select", "ssg-bookmarks");
      select.setAttribute("aria-label", "Go to an area or a substation");
      select.appendChild(el("option", null, "Go to\u2026"));
      select.appendChild(el("option", null, "Whole map"));
      var groups = {};
      marks.forEach(function (m, i) {
        if (!groups[m.group]) {
          groups[m.group] = el("optgroup");
          groups[m.group].label = m.group;
          select.appendChild(groups[m.group]);
        }
        var opt = el("option", null, m.label);
        opt.value = String(i);
        groups[m.group].appendChild(opt);
      });
      L.DomEvent.on(select, "change", function () {
        var i = select.selectedIndex;
        if (i === 1) SSG.bookmark(-1);
        else if (i > 1) SSG.bookmark(Number(select.value));
        select.selectedIndex = 0;
      });
      return select;
    });
  }

  // Go to bookmark `i` (-1: the whole map).
  SSG.bookmark = function (i) {
    var map = SSG.map, m = SSG.bookmarks[i];
    if (i < 0) {
      if (SSG.home) map.fitBounds(SSG.home, { padding: [24, 24], maxZoom: 17, animate: false });
    } else if (m.bounds) map.fitBounds(m.bounds, { padding: [24, 24], maxZoom: 17, animate: false });
    else map.setView([m.lat, m.lon], 17, { animate: false });
    return m || null;
  };

  // ------------------------------------------------------------------ test hooks
  // True once the map exists and every visible canvas layer has drawn its tiles.
  SSG.settled = function () {
    var map = SSG.map;
    if (!map || !map._loaded || map._animatingZoom) return false;
    return SSG.scene._ssgLoaded === true && !SSG.scene._pending;
  };

  SSG.counts = function () {
    var out = {};
    Object.keys(SSG.registry).forEach(function (key) {
      if (key !== "areas") out[key] = SSG.registry[key].count;
    });
    return out;
  };
})(window, document, L);
