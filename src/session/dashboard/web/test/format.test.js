// Times, durations and sizes as the pages show them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatDuration, formatBytes, formatTime, formatCount, splitAppId } from '../lib/format.js'

test('durations', () => {
  assert.equal(formatDuration(0.98), '0.98 ms')
  assert.equal(formatDuration(3), '3 ms')
  assert.equal(formatDuration(12.4), '12 ms')
  assert.equal(formatDuration(1250), '1.25 s')
  assert.equal(formatDuration(125_000), '2 min 5 s')
  assert.equal(formatDuration(120_000), '2 min')
  assert.equal(formatDuration(undefined), '')
})

test('bytes', () => {
  assert.equal(formatBytes(512), '512 B')
  assert.equal(formatBytes(1536), '1.5 KiB')
  assert.equal(formatBytes(90_400_000), '86.2 MiB')
  assert.equal(formatBytes(null), '')
})

test('times in local time with milliseconds; bad input shown as is', () => {
  const d = new Date(2026, 11, 7, 8, 29, 55, 193)
  assert.equal(formatTime(d.toISOString()), '08:29:55.193')
  assert.equal(formatTime('soon'), 'soon')
  assert.equal(formatTime(''), '')
})

test('counts and app ids', () => {
  assert.equal(formatCount(100000), '100\u202f000')
  assert.equal(formatCount(999), '999')
  assert.deepEqual(splitAppId('vtex.service-course@0.0.1'), { name: 'vtex.service-course', version: '0.0.1' })
  assert.deepEqual(splitAppId('plain'), { name: 'plain', version: '' })
})
