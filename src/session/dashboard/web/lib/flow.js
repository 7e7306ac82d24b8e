// Lays out the workspace's event flow as a picture: senders → keys → each app's handlers, with
// the app's routes and GraphQL endpoint inside its box. Pure geometry (no DOM): the overview
// page draws what this returns as SVG. Columns are stacked top-down and each node is pushed
// below the one before it, so no two nodes overlap whatever the subscriptions are.

export const SIZES = {
  row: 28, // node height
  gap: 10, // between nodes of a column
  boxHeader: 34, // the app's name above its handlers
  boxPad: 12,
  boxGap: 22, // between app boxes
  senderW: 190,
  keyW: 170,
  boxW: 290,
  colGap: 70,
}

const ANY_SENDER = 'any sender'
const ANY_KEY = 'any key'

/**
 * @param {{id: string, events?: {handler: string, sender: string, keys: string[]}[],
 *   routes?: {id: string, path: string, public: boolean}[], graphql?: string}[]} apps
 * @returns {{width: number, height: number, groups: object[], nodes: object[], edges: object[]}}
 *   nodes {id, kind: sender|key|handler|route|graphql, label, x, y, w, h, ...}; edges {from, to, d}
 */
export function layoutFlow(apps) {
  const S = SIZES
  const xSender = 0
  const xKey = S.senderW + S.colGap
  const xBox = xKey + S.keyW + S.colGap
  const groups = []
  const nodes = []
  const edges = []
  const keyLinks = new Map() // key node id → {sender, key, handlers: [handler node]}

  // 1. App boxes, one below the other: handlers first, then routes and the GraphQL endpoint.
  let y = 0
  for (const app of apps ?? []) {
    const box = { id: `app:${app.id}`, label: app.id, x: xBox, y, w: S.boxW, h: 0 }
    let rowY = y + S.boxHeader
    const inner = { x: xBox + S.boxPad, w: S.boxW - 2 * S.boxPad, h: S.row }
    const addRow = (node) => {
      nodes.push({ ...inner, y: rowY, app: app.id, ...node })
      rowY += S.row + S.gap
      return nodes[nodes.length - 1]
    }
    for (const sub of app.events ?? []) {
      const handler = addRow({ id: `handler:${app.id}:${sub.handler}`, kind: 'handler', label: sub.handler })
      const sender = sub.sender && sub.sender !== '*' ? sub.sender : ANY_SENDER
      const keys = sub.keys && sub.keys.length > 0 ? sub.keys : [ANY_KEY]
      for (const key of keys) {
        const id = `key:${sender}\u0000${key}`
        if (!keyLinks.has(id)) keyLinks.set(id, { sender, key, handlers: [] })
        keyLinks.get(id).handlers.push(handler)
      }
    }
    for (const route of app.routes ?? []) {
      addRow({
        id: `route:${app.id}:${route.id}`,
        kind: 'route',
        label: route.path,
        route: route.id,
        public: Boolean(route.public),
      })
    }
    if (app.graphql) addRow({ id: `graphql:${app.id}`, kind: 'graphql', label: app.graphql })
    if (rowY === y + S.boxHeader) rowY += S.row // an app with nothing to show still gets a body
    box.h = rowY - y - S.gap + S.boxPad
    groups.push(box)
    y += box.h + S.boxGap
  }

  // 2. Keys near the handlers they feed; 3. senders near their keys.
  const keyNodes = stack(
    [...keyLinks.entries()].map(([id, link]) => ({
      id,
      kind: 'key',
      label: link.key,
      sender: link.sender,
      x: xKey,
      w: S.keyW,
      h: S.row,
      want: mean(link.handlers.map(centre)) - S.row / 2,
      handlers: link.handlers,
    })),
  )
  const senders = new Map()
  for (const k of keyNodes) {
    if (!senders.has(k.sender)) senders.set(k.sender, [])
    senders.get(k.sender).push(k)
  }
  const senderNodes = stack(
    [...senders.entries()].map(([sender, keys]) => ({
      id: `sender:${sender}`,
      kind: 'sender',
      label: sender,
      x: xSender,
      w: S.senderW,
      h: S.row,
      want: mean(keys.map(centre)) - S.row / 2,
      keys,
    })),
  )

  for (const s of senderNodes) {
    for (const k of s.keys) edges.push(edge(s, k))
    delete s.keys
  }
  for (const k of keyNodes) {
    for (const h of k.handlers) edges.push(edge(k, h))
    delete k.handlers
  }
  const all = [...senderNodes, ...keyNodes, ...nodes].map(({ want: _want, ...n }) => n)
  const bottom = Math.max(0, y - S.boxGap, ...all.map((n) => n.y + n.h))
  return { width: xBox + S.boxW, height: bottom, groups, nodes: all, edges }
}

/** Orders nodes by where they want to be and pushes each below the previous one. */
function stack(nodes) {
  nodes.sort((a, b) => a.want - b.want || a.label.localeCompare(b.label))
  let next = 0
  for (const n of nodes) {
    n.y = Math.max(n.want, next)
    next = n.y + n.h + SIZES.gap
  }
  return nodes
}

function centre(n) {
  return n.y + n.h / 2
}

function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0
}

/** A horizontal S-curve from the right middle of `a` to the left middle of `b`. */
function edge(a, b) {
  const x1 = a.x + a.w
  const y1 = a.y + a.h / 2
  const x2 = b.x
  const y2 = b.y + b.h / 2
  const mid = (x1 + x2) / 2
  return { from: a.id, to: b.id, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }
}

/** Whether two rectangles overlap (touching edges do not count). */
export function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}
