// The seat map drawn as SVG: sections one under another, rows by their index, seats by their
// position (gaps are aisles). Free seats are checkboxes for the keyboard and the pointer alike;
// the map is one Tab stop, and the arrow keys move between its free seats.
const NS = 'http://www.w3.org/2000/svg';
const SIZE = 18; // one seat's cell, in SVG units
const GAP = 3;

/**
 * The mark drawn over a seat so that its state does not rest on colour alone: an X on a sold
 * seat, a dot on a held one, a check on the buyer's pick (none on a free seat).
 */
function markPath(state, x, y) {
  const at = (dx, dy) => `${x + dx} ${y + dy}`;
  if (state === 'sold') return `M${at(5, 5)}L${at(13, 13)}M${at(13, 5)}L${at(5, 13)}`;
  if (state === 'held') return `M${at(7, 9)}a2 2 0 1 0 4 0a2 2 0 1 0 -4 0`;
  if (state === 'picked') return `M${at(4.5, 9.5)}L${at(8, 13)}L${at(14, 5.5)}`;
  return '';
}

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/**
 * drawSeatMap(seats, {picked: Set of ids, onToggle(seat)}) -> <svg>. Without onToggle the map is
 * only shown (the organizer's view).
 */
export function drawSeatMap(seats, { picked = new Set(), onToggle } = {}) {
  const sections = new Map();
  for (const seat of seats) {
    if (!sections.has(seat.section)) sections.set(seat.section, []);
    sections.get(seat.section).push(seat);
  }
  const root = svg('svg', { class: 'seatmap', role: 'group', 'aria-label': 'Seat map' });
  const stops = []; // the free seats the keyboard moves between
  let top = 0;
  let width = 0;
  for (const [name, list] of sections) {
    const minRow = Math.min(...list.map((s) => s.row_index));
    const minPos = Math.min(...list.map((s) => s.position));
    const label = svg('text', { x: 0, y: top + 12, 'font-weight': 'bold' });
    label.textContent = name;
    root.append(label);
    top += 20;
    const rows = new Map();
    for (const seat of list) {
      const y = top + (seat.row_index - minRow) * (SIZE + GAP);
      const x = 24 + (seat.position - minPos) * (SIZE + GAP);
      width = Math.max(width, x + SIZE);
      if (!rows.has(seat.row)) {
        rows.set(seat.row, y);
        const rowLabel = svg('text', { x: 0, y: y + 13 });
        rowLabel.textContent = seat.row;
        root.append(rowLabel);
      }
      const state = picked.has(seat.id) ? 'picked' : seat.status;
      const rect = svg('rect', {
        x, y, width: SIZE, height: SIZE, rx: 4,
        class: `seat ${state}`,
        'data-seat': `${seat.section}/${seat.row}/${seat.label}`,
        'data-id': seat.id,
      });
      const mark = svg('path', { class: `mark ${state}`, d: markPath(state, x, y), 'aria-hidden': 'true' });
      const title = svg('title', {});
      title.textContent = `${seat.section}, row ${seat.row}, seat ${seat.label}: ${state === 'picked' ? 'your pick' : seat.status}`;
      rect.append(title);
      if (onToggle && seat.status === 'free') {
        stops.push({ rect, x, y });
        rect.setAttribute('role', 'checkbox');
        rect.setAttribute('aria-checked', String(picked.has(seat.id)));
        rect.setAttribute('aria-label', `${seat.section} row ${seat.row} seat ${seat.label}`);
        const toggle = () => {
          onToggle(seat);
          const on = picked.has(seat.id);
          rect.setAttribute('class', `seat ${on ? 'picked' : 'free'}`);
          mark.setAttribute('class', `mark ${on ? 'picked' : 'free'}`);
          mark.setAttribute('d', markPath(on ? 'picked' : 'free', x, y));
          rect.setAttribute('aria-checked', String(on));
          title.textContent = `${seat.section}, row ${seat.row}, seat ${seat.label}: ${on ? 'your pick' : 'free'}`;
        };
        rect.addEventListener('click', toggle);
        rect.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            toggle();
          }
        });
      }
      root.append(rect, mark);
    }
    top = Math.max(...rows.values()) + SIZE + 16;
  }
  rove(root, stops);
  const [w, hgt] = [Math.max(width, 100) + 8, top + 8];
  root.setAttribute('viewBox', `-4 -4 ${w} ${hgt}`);
  // drawn at 1.6 px per unit at most, so a small hall is not blown up to the page's width
  root.setAttribute('width', Math.round(w * 1.6));
  root.setAttribute('height', Math.round(hgt * 1.6));
  return root;
}

/**
 * One Tab stop for the whole map, the seat last moved to, so that a hall of hundreds of seats is
 * not hundreds of Tab presses on the way to Book; the arrow keys, Home and End move between free
 * seats (a row without any is skipped).
 */
function rove(root, stops) {
  if (!stops.length) return;
  let current = stops[0];
  for (const stop of stops) stop.rect.setAttribute('tabindex', stop === current ? '0' : '-1');
  const enter = (stop) => {
    current.rect.setAttribute('tabindex', '-1');
    stop.rect.setAttribute('tabindex', '0');
    current = stop;
  };
  // a click focuses a seat too: the Tab stop follows it
  root.addEventListener('focusin', (event) => {
    const stop = stops.find((s) => s.rect === event.target);
    if (stop && stop !== current) enter(stop);
  });
  root.addEventListener('keydown', (event) => {
    const next = neighbour(stops, current, event.key);
    if (!next) return;
    event.preventDefault();
    enter(next);
    next.rect.focus();
  });
}

function neighbour(stops, from, key) {
  const row = stops.filter((s) => s.y === from.y).sort((a, b) => a.x - b.x);
  const at = row.indexOf(from);
  switch (key) {
    case 'ArrowRight': return row[at + 1];
    case 'ArrowLeft': return row[at - 1];
    case 'Home': return row[0];
    case 'End': return row[row.length - 1];
    case 'ArrowDown':
    case 'ArrowUp': {
      const rows = [...new Set(stops.map((s) => s.y))].sort((a, b) => a - b);
      const y = rows[rows.indexOf(from.y) + (key === 'ArrowDown' ? 1 : -1)];
      if (y === undefined) return undefined;
      // the seat straight above or below, or the nearest free one in that row
      return stops.filter((s) => s.y === y).sort((a, b) => Math.abs(a.x - from.x) - Math.abs(b.x - from.x))[0];
    }
    default: return undefined;
  }
}

export function legend(withPicked) {
  const box = document.createElement('div');
  box.className = 'legend';
  for (const [cls, text] of [['free', 'Free'], ['held', 'Held'], ['sold', 'Sold'], ...(withPicked ? [['picked', 'Your pick']] : [])]) {
    const span = document.createElement('span');
    span.className = `${cls} marked`;
    // the same seat and mark as on the map
    const swatch = svg('svg', { class: 'swatch', viewBox: '0 0 18 18', width: 16, height: 16, 'aria-hidden': 'true' });
    swatch.append(svg('rect', { x: 0, y: 0, width: SIZE, height: SIZE, rx: 4, class: `seat ${cls}` }), svg('path', { class: `mark ${cls}`, d: markPath(cls, 0, 0) }));
    span.append(swatch, text);
    box.append(span);
  }
  return box;
}
