// The page's filters keep what the session's history API keeps.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { matchesEvent, matchesLog, matchesRequest, looksLikeEventId, toQuery, atLeast } from '../lib/filters.js'

const ev = (over = {}) => ({
  seq: 5,
  id: '49deac-5',
  time: '2026-12-07T10:00:00Z',
  sender: 'vtex.events-example',
  key: 'send-event',
  outcome: 'ok',
  deliveries: [{ app: 'vtex.service-course@0.0.1', handler: 'liveUsersUpdate', outcome: 'ok', attempts: 1 }],
  ...over,
})

test('an empty filter keeps everything; blank fields are ignored', () => {
  assert.equal(matchesEvent(ev(), {}), true)
  assert.equal(matchesEvent(ev(), { sender: '  ', key: '', q: ' ' }), true)
})

test('sender, key and outcome match exactly', () => {
  assert.equal(matchesEvent(ev(), { sender: 'vtex.events-example' }), true)
  assert.equal(matchesEvent(ev(), { sender: 'vtex.events' }), false)
  assert.equal(matchesEvent(ev(), { key: 'send-event', outcome: 'ok' }), true)
  assert.equal(matchesEvent(ev(), { outcome: 'failed' }), false)
})

test('app (with or without version) and handler keep events with such a delivery', () => {
  assert.equal(matchesEvent(ev(), { app: 'vtex.service-course@0.0.1' }), true)
  assert.equal(matchesEvent(ev(), { app: 'vtex.service-course' }), true)
  assert.equal(matchesEvent(ev(), { app: 'vtex.other' }), false)
  assert.equal(matchesEvent(ev(), { app: 'vtex.service-course', handler: 'liveUsersUpdate' }), true)
  assert.equal(matchesEvent(ev(), { handler: 'other' }), false)
  assert.equal(matchesEvent(ev({ deliveries: [], outcome: 'unmatched' }), { handler: 'liveUsersUpdate' }), false)
})

test('free text looks in id, sender and key, case-insensitive', () => {
  assert.equal(matchesEvent(ev(), { q: 'SEND-EV' }), true)
  assert.equal(matchesEvent(ev(), { q: 'events-ex' }), true)
  assert.equal(matchesEvent(ev(), { q: 'nothing' }), false)
})

test('an id pasted (with spaces around) finds that event and no other', () => {
  assert.equal(looksLikeEventId(' 49deac-5 '), true)
  assert.equal(looksLikeEventId('49deac-'), false)
  assert.equal(looksLikeEventId('send-event'), false)
  assert.equal(matchesEvent(ev(), { q: ' 49DEAC-5\n' }), true)
  // 49deac-5 is a substring of 49deac-50, but a pasted id means that one event.
  assert.equal(matchesEvent(ev({ id: '49deac-50', seq: 50 }), { q: '49deac-5' }), false)
})

test('toQuery builds the API query with paging and skips empty values', () => {
  assert.equal(toQuery({ sender: 'a b', key: '' }, { before: 10, limit: 100 }), '?sender=a+b&before=10&limit=100')
  assert.equal(toQuery({}, {}), '')
})

test('logs: minimum level, app, text in message or handler', () => {
  const line = { seq: 1, app: 'vtex.a@1.0.0', level: 'warn', message: 'Slow VBase', handler: 'h1' }
  assert.equal(matchesLog(line, { level: 'info' }), true)
  assert.equal(matchesLog(line, { level: 'error' }), false)
  assert.equal(matchesLog(line, { app: 'vtex.a' }), true)
  assert.equal(matchesLog(line, { app: 'vtex.b' }), false)
  assert.equal(matchesLog(line, { q: 'vbase' }), true)
  assert.equal(matchesLog(line, { q: 'H1' }), true)
  assert.equal(matchesLog(line, { q: 'zzz' }), false)
  assert.equal(atLeast('debug', 'info'), false)
  assert.equal(atLeast('error', ''), true)
})

test('requests: app and text over path, operation, status', () => {
  const r = { app: 'vtex.a@1.0.0', path: '/_v/hello', route: 'hello', method: 'GET', status: 500, operation: null }
  assert.equal(matchesRequest(r, { app: 'vtex.a', q: 'hello' }), true)
  assert.equal(matchesRequest(r, { q: '500' }), true)
  assert.equal(matchesRequest(r, { q: 'query' }), false)
})
