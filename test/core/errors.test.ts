import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import {
  PEER_ERROR_HRESULTS,
  PeerError,
  isPeerError,
  toPeerError,
  type PeerErrorCode,
} from '../../src/core/errors.ts'

describe('PeerError', () => {
  test('carries code, unsigned hresult and Windows-style hex', () => {
    const cases: Array<[PeerErrorCode, number, string]> = [
      ['PEER_E_CHAIN_TOO_LONG', 0x80630703, '0x80630703'],
      ['PEER_E_ALREADY_EXISTS', 0x800700b7, '0x800700b7'],
      ['E_INVALIDARG', 0x80070057, '0x80070057'],
      ['E_ABORT', 0x80004004, '0x80004004'],
      ['PEER_E_NOT_FOUND', 0x80070490, '0x80070490'],
      ['PEER_E_CLOUD_NOT_FOUND', 0x80072ced, '0x80072ced'],
      ['PEER_E_MALFORMED_MESSAGE', 0x8063f002, '0x8063f002'],
    ]
    for (const [code, hresult, hex] of cases) {
      const err = new PeerError(code, 'something failed')
      assert.equal(err.code, code)
      assert.equal(err.hresult, hresult)
      assert.ok(err.hresult > 0, 'hresult is unsigned')
      assert.equal(err.hresultHex, hex)
      assert.equal(err.message, 'something failed')
      assert.equal(err.name, 'PeerError')
      assert.ok(err instanceof Error)
      assert.equal(err.details, undefined)
    }
  })

  test('every code has a distinct failure HRESULT', () => {
    const seen = new Map<number, string>()
    for (const [code, value] of Object.entries(PEER_ERROR_HRESULTS)) {
      const hresult = value >>> 0
      assert.ok(hresult >= 0x80000000, `${code} has the failure bit set`)
      assert.equal(seen.get(hresult), undefined, `${code} duplicates ${seen.get(hresult)}`)
      seen.set(hresult, code)
    }
  })

  test('hresultHex pads to eight digits', () => {
    const err = new PeerError('E_ABORT', 'x')
    assert.match(err.hresultHex, /^0x[0-9a-f]{8}$/)
  })

  test('toJSON gives code, hex hresult, message and details only when present', () => {
    const plain = new PeerError('PEER_E_CHAIN_TOO_LONG', 'chain of 9 certificates')
    assert.deepEqual(plain.toJSON(), {
      code: 'PEER_E_CHAIN_TOO_LONG',
      hresult: '0x80630703',
      message: 'chain of 9 certificates',
    })
    assert.ok(!('details' in plain.toJSON()))

    const detailed = new PeerError('PEER_E_TOO_LARGE', 'too big', {
      details: { size: 10, limit: 5 },
    })
    assert.deepEqual(detailed.details, { size: 10, limit: 5 })
    assert.deepEqual(JSON.parse(JSON.stringify(detailed)), {
      code: 'PEER_E_TOO_LARGE',
      hresult: '0x8063f003',
      message: 'too big',
      details: { size: 10, limit: 5 },
    })
  })

  test('keeps the cause, and has none when not given', () => {
    const root = new TypeError('root cause')
    const err = new PeerError('E_UNEXPECTED', 'wrapped', { cause: root })
    assert.equal(err.cause, root)
    assert.ok(!('cause' in new PeerError('E_UNEXPECTED', 'no cause')))
  })
})

describe('isPeerError', () => {
  const err = new PeerError('PEER_E_NOT_FOUND', 'missing')

  test('without a code matches any PeerError only', () => {
    assert.equal(isPeerError(err), true)
    assert.equal(isPeerError(new Error('plain')), false)
    assert.equal(isPeerError({ code: 'PEER_E_NOT_FOUND', name: 'PeerError' }), false)
    assert.equal(isPeerError(undefined), false)
    assert.equal(isPeerError('PEER_E_NOT_FOUND'), false)
  })

  test('with a code matches that code only', () => {
    assert.equal(isPeerError(err, 'PEER_E_NOT_FOUND'), true)
    assert.equal(isPeerError(err, 'PEER_E_ALREADY_EXISTS'), false)
    assert.equal(isPeerError(new Error('x'), 'PEER_E_NOT_FOUND'), false)
  })

  test('narrows the type', () => {
    const value: unknown = err
    if (isPeerError(value)) assert.equal(value.hresultHex, '0x80070490')
    else assert.fail('expected a PeerError')
  })
})

describe('toPeerError', () => {
  test('passes a PeerError through unchanged', () => {
    const err = new PeerError('PEER_E_ALREADY_EXISTS', 'exists')
    assert.equal(toPeerError(err, 'E_UNEXPECTED', 'saving'), err)
  })

  test('wraps an Error with the code, a combined message and the cause', () => {
    const root = new RangeError('disk on fire')
    const err = toPeerError(root, 'PEER_E_DISK_FULL', 'saving the identity')
    assert.ok(err instanceof PeerError)
    assert.equal(err.code, 'PEER_E_DISK_FULL')
    assert.equal(err.message, 'saving the identity: disk on fire')
    assert.equal(err.cause, root)
  })

  test('wraps non-Error values', () => {
    const fromString = toPeerError('boom', 'E_UNEXPECTED', 'step')
    assert.equal(fromString.message, 'step: boom')
    assert.equal(fromString.cause, 'boom')
    const fromNumber = toPeerError(42, 'E_UNEXPECTED', 'step')
    assert.equal(fromNumber.message, 'step: 42')
    assert.equal(fromNumber.cause, 42)
  })
})
