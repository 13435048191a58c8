/* smartstreet-geo map layers (MIT licence, part of smartstreet-geo). Needs Leaflet 1.9.
 *
 * Everything a map shows comes from one JSON data island (a script element of
 * type application/json with the id ISLAND_ID), read with JSON.parse by
 * SSG.setup. Every value from it reaches the page through textContent, a DOM
 * property or an <img> src (icons are data: URIs of SVG, which cannot run
 * script as images), never through innerHTML. The only HTML strings handed to
 * Leaflet are the constants of this file (LAYER_NAME_SLOT, OSM_ATTRIBUTION);
 * the layer names and the attribution text are filled into them as text.
 */
(function (window, document, L) {
  "use strict";

  var SSG = (window.SSG = { registry: {}, map: null, version: 2 });
  var TAU = 2 * Math.PI;
  var ISLAND_ID = "ssg-data";
  // constant markup only: Leaflet inserts layer names as HTML, so each name is this
  // empty slot, filled with the layer's key and label as text (LayerControl below)
  var LAYER_NAME_SLOT = '<span class="ssg-layer-name"></span>';
  var OSM_ATTRIBUTION =
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var ICON_URI = /^data:image\/svg\+xml;base64,[A-Za-z0-9+\/=]+$/;

  // ------------------------------------------------------------------ helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(n) {
    return Number(n).toLocaleString("en-GB");
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

  // The key of a legend row or layer name: an icon, a line, a ring, a square or a dot.
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
      key.style.border = "2px solid " + row.color;
    } else if (row.line) {
      key.style.borderTopColor = row.color;
      if (row.dash) key.style.borderTopStyle = "dashed";
    } else key.style.background = row.color;
    return key;
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
    var panes = { ssgLines: 410, ssgRadii: 420, ssgCustomers: 450, ssgEquipment: 640 };
    Object.keys(panes).forEach(function (name) {
      var pane = map.createPane(name);
      pane.style.zIndex = String(panes[name]);
      if (name === "ssgRadii" || name === "ssgCustomers") pane.style.pointerEvents = "none";
    });
    SSG.lineRenderer = L.canvas({ pane: "ssgLines", tolerance: 4 });
    SSG.radiusRenderer = L.canvas({ pane: "ssgRadii" });
    map.on("click", onCustomerClick);
    if (spec.legend) legend(map, spec.legend);
    // fit to the data before any layer draws, without animation
    map.setMaxZoom(spec.maxZoom || 20);
    if (spec.bounds) map.fitBounds(spec.bounds, { padding: [24, 24], maxZoom: 17, animate: false });
    if (spec.tiles) tiles(map, spec.tiles);
    overlays(map, spec.layers || [], (spec.legend && spec.legend.icons) || {});
  };

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

  // ------------------------------------------------------------------ layer control
  // Leaflet inserts each overlay name with innerHTML: every name is the constant
  // LAYER_NAME_SLOT, and the key and label are put into it here, as elements and text.
  var LayerControl = L.Control.Layers.extend({
    _addItem: function (obj) {
      var label = L.Control.Layers.prototype._addItem.call(this, obj);
      var slot = label.querySelector(".ssg-layer-name"), name = obj.layer._ssgName;
      if (slot && name) {
        slot.appendChild(keyElement(name, this.options.icons || {}, "ssg-layer-icon"));
        slot.appendChild(
          el("span", "ssg-layer-label", name.label + (name.count === undefined ? "" : " (" + fmt(name.count) + ")"))
        );
      }
      return label;
    },
  });

  var FACTORIES = ["points", "lines", "equipment", "substations"];

  function overlays(map, list, icons) {
    var control = new LayerControl(null, null, { collapsed: false, position: "topright", icons: icons });
    list.forEach(function (item) {
      if (FACTORIES.indexOf(item.factory) < 0) throw new Error("unknown layer type");
      var layer = SSG[item.factory](item.spec);
      layer._ssgName = item.name;
      if (item.show !== false) layer.addTo(map);
      control.addOverlay(layer, LAYER_NAME_SLOT);
    });
    control.addTo(map);
    SSG.layerControl = control;
  }

  // ------------------------------------------------------------------ customers
  // One canvas grid layer per contact category: points are drawn straight onto
  // 256 px canvas tiles from typed arrays (no per-point Leaflet object).
  var PointsLayer = L.GridLayer.extend({
    options: {
      pane: "ssgCustomers",
      updateWhenZooming: false,
      keepBuffer: 1,
      size: 1,
      alpha: 1,
      outline: true,
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

    createTile: function (coords) {
      var tile = L.DomUtil.create("canvas", "leaflet-tile");
      var size = this.getTileSize();
      var ratio = window.devicePixelRatio || 1;
      tile.width = size.x * ratio;
      tile.height = size.y * ratio;
      var d = this._d;
      var scale = size.x * Math.pow(2, coords.z);
      var ox = coords.x * size.x, oy = coords.y * size.y;
      var pad = this.maxRadius(coords.z) + 1;
      var lo = lowerBound(d.X, (ox - pad) / scale);
      var hi = lowerBound(d.X, (ox + size.x + pad) / scale);
      if (hi <= lo) return tile;
      var ctx = tile.getContext("2d");
      ctx.scale(ratio, ratio);
      ctx.globalAlpha = this.options.alpha;
      ctx.fillStyle = this.options.color;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.lineWidth = 0.8;
      var outline = this.options.outline && (d.n || coords.z >= 15);
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
        ctx.moveTo(px + r, py);
        ctx.arc(px, py, r, 0, TAU);
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
      return tile;
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
    var X0 = new Float64Array(n), Y0 = new Float64Array(n), order = new Array(n);
    for (var i = 0; i < n; i++) {
      X0[i] = mercX(ll[0][i]);
      Y0[i] = mercY(ll[1][i]);
      order[i] = i;
    }
    order.sort(function (a, b) {
      return X0[a] - X0[b] || a - b;
    });
    var X = new Float64Array(n), Y = new Float64Array(n);
    var counts = spec.n ? new Int32Array(n) : null;
    var labels = spec.labels ? new Array(n) : null;
    var rest = spec.rest || [];
    for (var j = 0; j < n; j++) {
      X[j] = X0[order[j]];
      Y[j] = Y0[order[j]];
      if (counts) counts[j] = spec.n[order[j]];
      if (labels) {
        var tail = spec.ri ? rest[spec.ri[order[j]]] : "";
        labels[j] = spec.labels[order[j]] + (tail ? ", " + tail : "");
      }
    }
    var total = n;
    if (counts) {
      total = 0;
      for (var k = 0; k < n; k++) total += counts[k];
    }
    var layer = new PointsLayer(
      { X: X, Y: Y, n: counts, labels: labels },
      {
        color: spec.color,
        outline: spec.outline !== false,
        zIndex: spec.z,
        size: spec.size || 1,
        alpha: spec.alpha || 1,
      }
    );
    layer.on("loading", function () {
      layer._ssgLoaded = false;
    });
    layer.on("load", function () {
      layer._ssgLoaded = true;
    });
    register(spec.key, "points", total, layer, {
      label: spec.label,
      markers: n,
      cell: spec.cell || null,
      ms: Date.now() - t0,
    });
    return layer;
  };

  function onCustomerClick(e) {
    var map = SSG.map, found = [];
    Object.keys(SSG.registry).forEach(function (key) {
      var entry = SSG.registry[key];
      if (entry.kind !== "points" || !map.hasLayer(entry.layer)) return;
      entry.layer.hits(map, e.latlng, 6).forEach(function (i) {
        found.push({ entry: entry, i: i });
      });
    });
    if (!found.length) return;
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
        list.appendChild(el("li", null, h.entry.layer._d.labels[h.i] + " \u2014 " + h.entry.label));
      });
      if (withLabels.length > 30) list.appendChild(el("li", null, "\u2026 and " + (withLabels.length - 30) + " more"));
      box.appendChild(list);
    }
    L.popup({ maxWidth: 360 }).setLatLng(e.latlng).setContent(box).openOn(map);
  }

  // ------------------------------------------------------------------ circuits
  SSG.lines = function (spec) {
    var group = L.featureGroup(), parts = 0;
    spec.items.forEach(function (item) {
      var lls = item.parts.map(function (p) {
        return latlngs(p, spec.origin, spec.scale);
      });
      parts += lls.length;
      var line = spec.ring
        ? L.circleMarker(lls[0][0], {
            renderer: SSG.lineRenderer,
            radius: spec.ring,
            color: spec.color,
            weight: spec.weight,
            opacity: spec.opacity,
            fillColor: "#fff",
            fillOpacity: 1,
          })
        : L.polyline(lls, {
        renderer: SSG.lineRenderer,
        color: spec.color,
        weight: spec.weight,
        opacity: spec.opacity,
        dashArray: spec.dash || null,
        smoothFactor: 1,
      });
      line.bindTooltip(
        function () {
          var box = el("div", "ssg-tip");
          box.appendChild(el("b", null, item.label));
          if (spec.note) box.appendChild(el("div", null, spec.note));
          return box;
        },
        { sticky: true }
      );
      group.addLayer(line);
    });
    register(spec.key, "lines", spec.items.length, group, { parts: parts });
    return group;
  };

  // ------------------------------------------------------------------ substations
  SSG.substations = function (spec) {
    var group = L.featureGroup();
    var icon = L.divIcon({ className: "ssg-sub", iconSize: [10, 10], iconAnchor: [5, 5] });
    spec.items.forEach(function (item) {
      var m = L.marker([item.lat, item.lon], { icon: icon, keyboard: false });
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

  SSG.equipment = function (spec) {
    var group = L.featureGroup(), markers = 0;
    var icon = L.icon({
      iconUrl: ICON_URI.test(spec.icon) ? spec.icon : "data:,",
      className: "ssg-eq ssg-eq-" + Number(spec.index),
      iconSize: [22, 22],
      iconAnchor: [11, 11],
      popupAnchor: [0, -10],
      tooltipAnchor: [10, 0],
    });
    var area = {
      renderer: SSG.radiusRenderer,
      color: spec.color,
      weight: 1.5,
      dashArray: "4 3",
      fillColor: spec.color,
      fillOpacity: 0.08,
      interactive: false,
    };
    spec.items.forEach(function (item) {
      var ll = [item.lat, item.lon];
      if (item.zone) {
        item.zone.forEach(function (ring) {
          group.addLayer(L.polygon(latlngs(ring, spec.origin, spec.scale), area));
        });
      } else if (item.r !== null) {
        group.addLayer(L.circle(ll, L.extend({ radius: item.r }, area)));
      }
      if (item.shape) {
        group.addLayer(
          L.polyline(
            item.shape.map(function (p) {
              return latlngs(p, spec.origin, spec.scale);
            }),
            { renderer: SSG.radiusRenderer, color: spec.color, weight: 3, interactive: false }
          )
        );
      }
      var marker = L.marker(ll, { icon: icon, pane: "ssgEquipment", riseOnHover: true });
      marker.bindPopup(
        function () {
          return equipmentPopup(item, spec);
        },
        { maxWidth: 320 }
      );
      marker.bindTooltip(function () {
        return el("span", null, item.id + " \u2014 " + spec.label);
      });
      group.addLayer(marker);
      markers++;
    });
    register(spec.key, "equipment", markers, group, { label: spec.label });
    return group;
  };

  // ------------------------------------------------------------------ legend
  function legend(map, spec) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var outer = el("div", "ssg-legend leaflet-control");
      var box = el("details");
      box.open = window.innerHeight >= 760; // folded on small screens
      box.appendChild(el("summary", "ssg-legend-title", spec.title || "Legend"));
      outer.appendChild(box);
      spec.sections.forEach(function (section) {
        if (!section.rows.length) return;
        box.appendChild(el("h4", null, section.title));
        section.rows.forEach(function (row) {
          var line = el("div", "ssg-legend-row");
          line.appendChild(keyElement(row, spec.icons || {}, "ssg-legend-icon"));
          line.appendChild(el("span", null, row.label + (row.count === undefined ? "" : " (" + fmt(row.count) + ")")));
          box.appendChild(line);
        });
      });
      (spec.notes || []).forEach(function (note) {
        box.appendChild(el("div", "ssg-note", note));
      });
      L.DomEvent.disableClickPropagation(outer);
      L.DomEvent.disableScrollPropagation(outer);
      return outer;
    };
    control.addTo(map);
    SSG.legendControl = control;
  }

  // ------------------------------------------------------------------ test hooks
  // True once the map exists and every visible customer layer has drawn its tiles.
  SSG.settled = function () {
    var map = SSG.map;
    if (!map || !map._loaded || map._animatingZoom) return false;
    return Object.keys(SSG.registry).every(function (key) {
      var entry = SSG.registry[key];
      return entry.kind !== "points" || !map.hasLayer(entry.layer) || entry.layer._ssgLoaded === true;
    });
  };

  SSG.counts = function () {
    var out = {};
    Object.keys(SSG.registry).forEach(function (key) {
      out[key] = SSG.registry[key].count;
    });
    return out;
  };
})(window, document, L);
