// The seat map drawn as SVG: sections one under another, rows by their index, seats by their
// position (gaps are aisles). Free seats are buttons for the keyboard and the pointer alike.
const NS = 'http://www.w3.org/2000/svg';
const SIZE = 18; // one seat's cell, in SVG units
const GAP = 3;

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
      const title = svg('title', {});
      title.textContent = `${seat.section}, row ${seat.row}, seat ${seat.label}: ${state === 'picked' ? 'your pick' : seat.status}`;
      rect.append(title);
      if (onToggle && seat.status === 'free') {
        rect.setAttribute('tabindex', '0');
        rect.setAttribute('role', 'checkbox');
        rect.setAttribute('aria-checked', String(picked.has(seat.id)));
        rect.setAttribute('aria-label', `${seat.section} row ${seat.row} seat ${seat.label}`);
        const toggle = () => {
          onToggle(seat);
          const on = picked.has(seat.id);
          rect.setAttribute('class', `seat ${on ? 'picked' : 'free'}`);
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
      root.append(rect);
    }
    top = Math.max(...rows.values()) + SIZE + 16;
  }
  const [w, hgt] = [Math.max(width, 100) + 8, top + 8];
  root.setAttribute('viewBox', `-4 -4 ${w} ${hgt}`);
  // drawn at 1.6 px per unit at most, so a small hall is not blown up to the page's width
  root.setAttribute('width', Math.round(w * 1.6));
  root.setAttribute('height', Math.round(hgt * 1.6));
  return root;
}

export function legend(withPicked) {
  const box = document.createElement('div');
  box.className = 'legend';
  for (const [cls, text] of [['free', 'Free'], ['held', 'Held'], ['sold', 'Sold'], ...(withPicked ? [['picked', 'Your pick']] : [])]) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    box.append(span);
  }
  return box;
}
