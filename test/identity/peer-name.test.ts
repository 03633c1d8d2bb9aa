import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { toHex } from '../../src/core/bytes.ts'
import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import {
  MAX_CLASSIFIER_LENGTH,
  MAX_DNS_LABEL_LENGTH,
  MAX_DNS_NAME_LENGTH,
} from '../../src/identity/constants.ts'
import { Identity } from '../../src/identity/identity.ts'
import { normalizeClassifier, PeerName } from '../../src/identity/peer-name.ts'
import { punycodeEncode } from '../../src/identity/punycode.ts'
import { throwsPeerError as throwsCode } from '../helpers/assert-peer-error.ts'

/** Asserts that `fn` throws a PeerError with `code`. */ // Authorities of both shapes: one starting with a letter, one with a digit.
const AUTH_A = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
const AUTH_D = '0f1e2d3c4b5a69788796a5b4c3d2e1f00112233f'
const AUTH_9 = '9' + 'b'.repeat(39)

describe('PeerName.parse', () => {
  test('an unsecured name', () => {
    const name = PeerName.parse('0.chat')
    assert.equal(name.authority, '0')
    assert.equal(name.classifier, 'chat')
    assert.equal(name.isSecured, false)
    assert.equal(name.toString(), '0.chat')
    assert.equal(JSON.stringify({ name }), '{"name":"0.chat"}')
  })

  test('a secured name', () => {
    const name = PeerName.parse(`${AUTH_A}.alice`)
    assert.equal(name.authority, AUTH_A)
    assert.equal(name.classifier, 'alice')
    assert.equal(name.isSecured, true)
    assert.equal(name.toString(), `${AUTH_A}.alice`)
  })

  test('a PeerName parses to itself', () => {
    const name = PeerName.parse('0.chat')
    assert.equal(PeerName.parse(name), name)
  })

  test('"0." (unsecured, empty classifier) and a bare "0" are refused', () => {
    throwsCode(() => PeerName.parse('0.'), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.parse('0'), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.fromParts('0', ''), 'PEER_E_INVALID_PEER_NAME')
  })

  test('a secured name may have an empty classifier; a bare authority is the same name', () => {
    const dotted = PeerName.parse(`${AUTH_A}.`)
    assert.equal(dotted.classifier, '')
    assert.equal(dotted.isSecured, true)
    assert.equal(dotted.toString(), `${AUTH_A}.`)
    const bare = PeerName.parse(AUTH_A)
    assert.equal(bare.toString(), `${AUTH_A}.`)
    assert.ok(bare.equals(dotted))
    assert.ok(dotted.equals(AUTH_A))
  })

  test('a classifier of 149 characters is accepted, 150 refused', () => {
    assert.equal(MAX_CLASSIFIER_LENGTH, 149)
    assert.equal(PeerName.parse('0.' + 'x'.repeat(149)).classifier.length, 149)
    assert.equal(PeerName.parse(`${AUTH_A}.` + 'x'.repeat(149)).classifier.length, 149)
    throwsCode(() => PeerName.parse('0.' + 'x'.repeat(150)), 'PEER_E_CLASSIFIER_TOO_LONG')
    throwsCode(() => PeerName.parse(`${AUTH_A}.` + 'x'.repeat(150)), 'PEER_E_CLASSIFIER_TOO_LONG')
  })

  test('lengths count code points: 149 astral characters are accepted, 150 refused', () => {
    const emoji149 = '\u{1F600}'.repeat(149)
    const name = PeerName.parse('0.' + emoji149)
    assert.equal([...name.classifier].length, 149)
    assert.equal(name.classifier.length, 298) // UTF-16 units
    assert.equal(PeerName.parse(`${AUTH_A}.${emoji149}`).classifier, emoji149)
    throwsCode(() => PeerName.parse('0.' + '\u{1F600}'.repeat(150)), 'PEER_E_CLASSIFIER_TOO_LONG')
    throwsCode(
      () => PeerName.parse(`${AUTH_A}.` + '\u{1F600}'.repeat(150)),
      'PEER_E_CLASSIFIER_TOO_LONG',
    )
  })

  test('lengths count characters after NFC: decomposed input is measured once composed', () => {
    // 149 'é' given as e + U+0301 (298 code points) is 149 characters in NFC.
    assert.equal(PeerName.parse('0.' + 'e\u0301'.repeat(149)).classifier, '\u00e9'.repeat(149))
    throwsCode(() => PeerName.parse('0.' + 'e\u0301'.repeat(150)), 'PEER_E_CLASSIFIER_TOO_LONG')
    // Korean in NFD (as macOS file names are): 3 jamo per syllable.
    const nfdSyllable = '\u1100\u1161\u11a8'
    assert.equal(PeerName.parse('0.' + nfdSyllable.repeat(149)).classifier, '\uac01'.repeat(149))
    throwsCode(() => PeerName.parse('0.' + nfdSyllable.repeat(150)), 'PEER_E_CLASSIFIER_TOO_LONG')
    // The largest composition Unicode has: 4 code points into U+1F82.
    const greek = '\u03b1\u0313\u0300\u0345'
    assert.equal(PeerName.parse('0.' + greek.repeat(149)).classifier, '\u1f82'.repeat(149))
    throwsCode(() => PeerName.parse('0.' + greek.repeat(150)), 'PEER_E_CLASSIFIER_TOO_LONG')
  })

  test('very long input is refused quickly with a PeerError', () => {
    throwsCode(() => PeerName.parse('0.' + 'x'.repeat(1_000_000)), 'PEER_E_CLASSIFIER_TOO_LONG')
    throwsCode(() => normalizeClassifier('x'.repeat(1_000_000)), 'PEER_E_CLASSIFIER_TOO_LONG')
    assert.equal(PeerName.isValid('y'.repeat(1_000_000)), false)
  })

  test('NUL and other control characters are refused', () => {
    const controls = ['\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f']
    controls.push('\u0080', '\u0085', '\u009f')
    for (const c of controls) {
      const hex = c.charCodeAt(0).toString(16)
      throwsCode(() => PeerName.parse(`0.a${c}b`), 'PEER_E_INVALID_CLASSIFIER', `U+${hex}`)
      throwsCode(() => PeerName.parse(`${AUTH_A}.${c}`), 'PEER_E_INVALID_CLASSIFIER', `U+${hex}`)
    }
    throwsCode(() => PeerName.parse('0.chat\u0000'), 'PEER_E_INVALID_CLASSIFIER')
    // Not controls: no-break space, line separator, a private-use character.
    for (const c of ['\u00a0', '\u2028', '\ue000']) assert.ok(PeerName.isValid(`0.a${c}b`))
  })

  test('Unicode noncharacters are refused (XML cannot carry U+FFFE or U+FFFF)', () => {
    for (const c of ['\uffff', '\ufffe', '\ufdd0', '\u{1fffe}', '\u{10ffff}']) {
      throwsCode(() => PeerName.parse(`0.a${c}b`), 'PEER_E_INVALID_CLASSIFIER')
    }
  })

  test('lone surrogates are refused; a surrogate pair is fine', () => {
    const pair = '\u{1F600}'
    for (const bad of [
      '\ud800',
      '\udc00',
      'a\ud83d',
      '\ude00a',
      pair.slice(1) + pair.slice(0, 1),
    ]) {
      throwsCode(() => PeerName.parse(`0.${bad}`), 'PEER_E_INVALID_CLASSIFIER', JSON.stringify(bad))
    }
    assert.equal(PeerName.parse(`0.${pair}`).classifier, pair)
  })

  test('classifiers are normalised to NFC', () => {
    const name = PeerName.parse('0.caf' + 'e\u0301')
    assert.equal(name.classifier, 'caf\u00e9')
    assert.equal(name.toString(), '0.caf\u00e9')
    assert.ok(name.equals('0.caf\u00e9'))
    assert.ok(PeerName.parse('0.caf\u00e9').equals('0.cafe\u0301'))
    // U+212B ANGSTROM SIGN is canonically U+00C5.
    assert.equal(PeerName.parse('0.\u212b').classifier, '\u00c5')
    assert.equal(normalizeClassifier('e\u0301'), '\u00e9')
  })

  test('names are case-sensitive; an uppercase-hex authority is refused', () => {
    const upper = PeerName.parse('0.Chat')
    const lower = PeerName.parse('0.chat')
    assert.notEqual(upper.toString(), lower.toString())
    assert.equal(upper.equals(lower), false)
    assert.equal(upper.equals('0.chat'), false)
    assert.ok(upper.equals('0.Chat'))
    throwsCode(() => PeerName.parse(`${AUTH_A.toUpperCase()}.chat`), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.parse(`A${AUTH_A.slice(1)}.chat`), 'PEER_E_INVALID_PEER_NAME')
  })

  test('classifiers may hold dots: only the first dot separates the authority', () => {
    const name = PeerName.parse('0.a.b')
    assert.equal(name.authority, '0')
    assert.equal(name.classifier, 'a.b')
    assert.equal(PeerName.parse(`${AUTH_A}.x.y.z`).classifier, 'x.y.z')
    assert.equal(PeerName.parse(`${AUTH_A}..`).classifier, '.')
    assert.equal(PeerName.parse('0..').classifier, '.')
  })

  test('bad authorities are refused', () => {
    const bad = [
      'a'.repeat(39),
      'a'.repeat(41),
      'g' + 'a'.repeat(39),
      'z'.repeat(40),
      'a'.repeat(39) + ' ',
      '',
      '00',
      '1',
      'O',
      ' 0',
    ]
    for (const authority of bad) {
      throwsCode(() => PeerName.parse(`${authority}.chat`), 'PEER_E_INVALID_PEER_NAME', authority)
    }
    throwsCode(() => PeerName.parse(''), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.parse('chat'), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.parse('a'.repeat(39)), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.parse(42 as unknown as string), 'PEER_E_INVALID_PEER_NAME')
  })

  test('fromParts validates both parts', () => {
    assert.equal(PeerName.fromParts(AUTH_A, 'x').toString(), `${AUTH_A}.x`)
    assert.equal(PeerName.fromParts('0', 'x').toString(), '0.x')
    throwsCode(() => PeerName.fromParts('nope', 'x'), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.fromParts(AUTH_A, 'a\u0000'), 'PEER_E_INVALID_CLASSIFIER')
  })
})

describe('PeerName.isValid and equals', () => {
  test('isValid', () => {
    for (const good of ['0.chat', `${AUTH_A}.`, AUTH_A, `${AUTH_D}.x.y`, '0.\u{1F600}']) {
      assert.equal(PeerName.isValid(good), true, good)
    }
    for (const bad of [
      '0.',
      '0',
      '',
      'chat',
      `${AUTH_A.toUpperCase()}.x`,
      '0.a\u0000',
      '0.\ud800',
    ]) {
      assert.equal(PeerName.isValid(bad), false, JSON.stringify(bad))
    }
    assert.equal(PeerName.isValid('0.' + 'x'.repeat(150)), false)
    assert.equal(PeerName.isValid(null as unknown as string), false)
  })

  test('equals compares canonical names, with strings or PeerNames', () => {
    const a = PeerName.parse(`${AUTH_A}.chat`)
    assert.ok(a.equals(`${AUTH_A}.chat`))
    assert.ok(a.equals(PeerName.parse(`${AUTH_A}.chat`)))
    assert.equal(a.equals(`${AUTH_D}.chat`), false)
    assert.equal(a.equals('0.chat'), false)
    assert.equal(a.equals(`${AUTH_A}.chat2`), false)
    assert.equal(a.equals(`${AUTH_A}.`), false)
    // Not a peer name at all: simply not equal.
    assert.equal(a.equals('not a name'), false)
    assert.equal(a.equals('0.'), false)
  })
})

describe('PeerName.create', () => {
  const identity = Identity.create({
    classifier: 'alice',
    random: new SeededRandom('peer-name/create'),
    now: Date.UTC(2026, 0, 1),
  })
  const authority = PeerName.parse(identity.peerName).authority

  test('both null is E_INVALIDARG', () => {
    throwsCode(() => PeerName.create(null, null), 'E_INVALIDARG')
  })

  test('null identity gives an unsecured name; it needs a classifier', () => {
    const name = PeerName.create(null, 'chat')
    assert.equal(name.toString(), '0.chat')
    assert.equal(name.isSecured, false)
    throwsCode(() => PeerName.create(null, ''), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.create(null, 'a\u0000'), 'PEER_E_INVALID_CLASSIFIER')
    assert.equal(PeerName.create(null, 'e\u0301').toString(), '0.\u00e9')
  })

  test("a null classifier returns the identity's own name", () => {
    assert.equal(PeerName.create(identity, null).toString(), identity.peerName)
    assert.equal(PeerName.create(identity.peerName, null).toString(), identity.peerName)
    assert.equal(identity.peerName, `${authority}.alice`)
  })

  test("an identity and a classifier give the identity's authority with that classifier", () => {
    assert.equal(PeerName.create(identity, 'chat').toString(), `${authority}.chat`)
    assert.equal(PeerName.create(identity.peerName, 'chat').toString(), `${authority}.chat`)
    assert.equal(PeerName.create({ peerName: `${AUTH_D}.x` }, 'y').toString(), `${AUTH_D}.y`)
    assert.equal(PeerName.create(identity, '').toString(), `${authority}.`)
    assert.equal(PeerName.create(identity, 'a.b').classifier, 'a.b')
    assert.equal(PeerName.create(identity, 'cafe\u0301').classifier, 'caf\u00e9')
    assert.ok(PeerName.create(identity, 'chat').isSecured)
  })

  test('classifier rules apply', () => {
    assert.equal(PeerName.create(identity, 'x'.repeat(149)).classifier.length, 149)
    throwsCode(() => PeerName.create(identity, 'x'.repeat(150)), 'PEER_E_CLASSIFIER_TOO_LONG')
    throwsCode(() => PeerName.create(identity, 'a\u0007'), 'PEER_E_INVALID_CLASSIFIER')
    throwsCode(() => PeerName.create(identity, '\udfff'), 'PEER_E_INVALID_CLASSIFIER')
  })

  test('an unsecured or invalid "identity" is refused', () => {
    throwsCode(() => PeerName.create('0.chat', 'x'), 'E_INVALIDARG')
    throwsCode(() => PeerName.create('not a name', 'x'), 'PEER_E_INVALID_PEER_NAME')
    throwsCode(() => PeerName.create({ peerName: 'nope' }, null), 'PEER_E_INVALID_PEER_NAME')
  })
})

describe('host names', () => {
  const table: Array<[string, string]> = [
    ['0.chat', 'chat.pnrp.net'],
    ['0.pnrpsampletest', 'pnrpsampletest.pnrp.net'],
    [`${AUTH_A}.chat`, `chat.${AUTH_A}.pnrp.net`],
    [`${AUTH_D}.chat`, `chat.p${AUTH_D}.pnrp.net`],
    [`${AUTH_9}.chat`, `chat.p${AUTH_9}.pnrp.net`],
    [`${AUTH_A}.`, `${AUTH_A}.pnrp.net`],
    [`${AUTH_D}.`, `p${AUTH_D}.pnrp.net`],
    ['0.a.b', 'a.b.pnrp.net'],
    [`${AUTH_D}.x.y.z`, `x.y.z.p${AUTH_D}.pnrp.net`],
    ['0.MixedCase', 'MixedCase.pnrp.net'],
    ['0.Chat.Room', 'Chat.Room.pnrp.net'],
    ['0.a-b', 'a-b.pnrp.net'],
    ['0.123', '123.pnrp.net'],
    ['0.m\u00fcnchen', 'xn--mnchen-3ya.pnrp.net'],
    ['0.M\u00fcller', 'xn--Mller-kva.pnrp.net'],
    ['0.\u65e5\u672c\u8a9e', 'xn--wgv71a119e.pnrp.net'],
    ['0.\u{1F4A9}', 'xn--ls8h.pnrp.net'],
    [`${AUTH_A}.b\u00fccher.shop`, `xn--bcher-kva.shop.${AUTH_A}.pnrp.net`],
    ['0.-\u00fc', 'xn----eha.pnrp.net'],
    // an unsecured name whose classifier merely resembles an authority (no 'p' before a digit)
    [`0.${AUTH_9}`, `${AUTH_9}.pnrp.net`],
    ['0.p' + 'a'.repeat(40), 'p' + 'a'.repeat(40) + '.pnrp.net'],
    // a secured name's own classifier may look like an authority: only the last label is one
    [`${AUTH_A}.${AUTH_D}`, `${AUTH_D}.${AUTH_A}.pnrp.net`],
    ['0.' + 'x'.repeat(63), 'x'.repeat(63) + '.pnrp.net'],
  ]

  test('toHostName and fromHostName round trip a table of names', () => {
    for (const [name, host] of table) {
      assert.equal(PeerName.toHostName(name), host, name)
      assert.equal(PeerName.toHostName(PeerName.parse(name)), host, name)
      assert.equal(PeerName.fromHostName(host).toString(), name, host)
      assert.equal(PeerName.fromHostName(host + '.').toString(), name, host + '.')
    }
  })

  test('a seeded random round trip over generated names', () => {
    const random = new SeededRandom('peer-name/host-round-trip')
    const alphabet = [
      ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
      ...'------',
      ...'\u00fc\u00e9\u00df\u00c5\u0394\u03a9\u0436\u65e5\u672c\uac01\u{1F600}\u{1F4A9}',
      ' ',
      '_',
    ]
    const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T
    let converted = 0
    let refused = 0
    const total = 400
    for (let n = 0; n < total; n++) {
      const secured = random.int(3) > 0
      const authority = secured ? toHex(random.bytes(20)) : '0'
      const parts: string[] = []
      const partCount = secured ? random.int(4) : 1 + random.int(3)
      for (let p = 0; p < partCount; p++) {
        const length = 1 + random.int(random.int(4) === 0 ? 40 : 12)
        let part = ''
        for (let i = 0; i < length; i++) part += pick(alphabet)
        parts.push(part)
      }
      const text = `${authority}.${parts.join('.')}`
      const name = PeerName.parse(text)
      assert.equal(name.toString(), text)
      let host: string
      try {
        host = PeerName.toHostName(name)
      } catch (err) {
        assert.ok(err instanceof PeerError, String(err))
        assert.equal(err.code, 'PEER_E_CANNOT_CONVERT_PEER_NAME', `${text}: ${err.message}`)
        refused++
        continue
      }
      converted++
      assert.ok(host.length <= MAX_DNS_NAME_LENGTH, host)
      assert.ok(host.endsWith('.pnrp.net'), host)
      for (const label of host.split('.')) {
        assert.match(label, /^[A-Za-z0-9-]+$/, host)
        assert.ok(label.length <= MAX_DNS_LABEL_LENGTH, host)
        assert.ok(!label.startsWith('-') && !label.endsWith('-'), host)
      }
      const back = PeerName.fromHostName(host)
      assert.equal(back.toString(), text, host)
      assert.equal(PeerName.toHostName(back), host)
    }
    assert.equal(converted + refused, total)
    assert.ok(converted >= total / 2, `only ${converted} of ${total} names converted`)
    assert.ok(refused > 0, 'the generator should also produce names that cannot convert')
  })

  test('a seeded random walk over host names: whatever fromHostName accepts maps back', () => {
    const random = new SeededRandom('peer-name/host-fuzz')
    const ldh = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789--']
    const unicode = [...'\u00fc\u00e9\u0394\u65e5\uac01\u{1F600}abcXYZ019-']
    const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T
    const word = (chars: readonly string[], max: number): string => {
      let out = ''
      for (let i = 0, n = 1 + random.int(max); i < n; i++) out += pick(chars)
      return out
    }
    let accepted = 0
    for (let n = 0; n < 400; n++) {
      const labels: string[] = []
      for (let i = 0, count = 1 + random.int(3); i < count; i++) {
        const kind = random.int(4)
        if (kind === 0) labels.push(word(ldh, 10))
        else if (kind === 1) {
          let label = 'xn--' + punycodeEncode(word(unicode, 8))
          // sometimes damage it
          if (random.int(3) === 0) {
            const at = 4 + random.int(label.length - 4)
            label = label.slice(0, at) + pick(ldh) + label.slice(at + 1)
          }
          labels.push(label)
        } else if (kind === 2) labels.push('xn--' + word(ldh, 8))
        else labels.push(word([...'abcdefghijklmnopqrstuvwxyz'], 6))
      }
      if (random.int(2) === 0) {
        const authority = toHex(random.bytes(20))
        labels.push(/^[0-9]/.test(authority) ? 'p' + authority : authority)
      }
      const host = [...labels, 'pnrp.net'].join('.')
      let name: PeerName
      try {
        name = PeerName.fromHostName(host)
      } catch (err) {
        assert.ok(err instanceof PeerError, String(err))
        assert.equal(err.code, 'PEER_E_INVALID_PEER_HOST_NAME', `${host}: ${err.message}`)
        continue
      }
      accepted++
      assert.equal(PeerName.toHostName(name), host, `${host} read as ${name.toString()}`)
    }
    assert.ok(accepted > 50, `only ${accepted} generated host names were accepted`)
  })

  test('PEER_E_CANNOT_CONVERT_PEER_NAME for names DNS cannot carry', () => {
    const cannot = [
      '0.a b',
      '0.a_b',
      `${AUTH_A}.under_score`,
      '0.caf\u00e9 au lait',
      '0.\u00fc_x',
      '0.' + 'x'.repeat(64),
      '0.' + '\u00fc'.repeat(60),
      '0.a..b',
      '0..a',
      '0.a.',
      '0..',
      `${AUTH_A}..`,
      `${AUTH_A}.a.`,
      '0.-a',
      '0.a-',
      '0.a.-b',
      '0.ab--c',
      '0.xn--mnchen-3ya',
      '0.a!',
      '0.a/b',
      // an unsecured classifier whose last part reads as an authority label
      `0.${AUTH_A}`,
      `0.x.${AUTH_A}`,
      `0.p${AUTH_D}`,
      `0.P${AUTH_D.toUpperCase()}`,
      `0.${AUTH_A.toUpperCase()}`,
      // 75 punycoded labels: more than 253 characters in all
      '0.' + Array(75).fill('\u00fc').join('.'),
    ]
    for (const name of cannot) {
      throwsCode(() => PeerName.toHostName(name), 'PEER_E_CANNOT_CONVERT_PEER_NAME', name)
    }
    // an invalid name is still a name error, not a conversion error
    throwsCode(() => PeerName.toHostName('0.'), 'PEER_E_INVALID_PEER_NAME')
  })

  test('PEER_E_INVALID_PEER_HOST_NAME for text that is not a PNRP host name', () => {
    const invalid = [
      'chat.pnrp.com',
      'chat.pnrp.net.evil',
      'chat.example.net',
      'chatpnrp.net',
      'pnrp.net',
      '.pnrp.net',
      'a..b.pnrp.net',
      'a.pnrp.net..',
      '',
      '.',
      'a_b.pnrp.net',
      'a b.pnrp.net',
      '-a.pnrp.net',
      'a-.pnrp.net',
      'ab--c.pnrp.net',
      'x'.repeat(64) + '.pnrp.net',
      // non-canonical punycode: pure ASCII, uppercase digits, a different encoding of the same
      'xn--abc-.pnrp.net',
      'xn--mnchen-3YA.pnrp.net',
      'xn--MNCHEN-3YA.pnrp.net',
      // punycode that does not decode, or decodes to something no classifier holds
      'xn--.pnrp.net',
      'xn---.pnrp.net',
      'xn--a.pnrp.net',
      'xn--abc.pnrp.net',
      'xn--' + punycodeEncode('e\u0301') + '.pnrp.net',
      // more than 253 characters, and a long name of short labels
      ('abcdefghi.'.repeat(25) + 'pnrp.net').padStart(260, 'x'),
      'a.'.repeat(130) + 'pnrp.net',
      // classifier over 149 characters although every label is fine
      ('a'.repeat(60) + '.').repeat(3) + 'pnrp.net',
    ]
    for (const host of invalid) {
      throwsCode(() => PeerName.fromHostName(host), 'PEER_E_INVALID_PEER_HOST_NAME', host)
    }
    throwsCode(() => PeerName.fromHostName(7 as unknown as string), 'PEER_E_INVALID_PEER_HOST_NAME')
  })

  test('case: XN-- and an uppercase authority are read; classifier case is kept', () => {
    assert.equal(PeerName.fromHostName('XN--mnchen-3ya.pnrp.net').toString(), '0.m\u00fcnchen')
    assert.equal(PeerName.fromHostName('Xn--mnchen-3ya.PNRP.NET').toString(), '0.m\u00fcnchen')
    assert.equal(PeerName.fromHostName('CHAT.PNRP.NET').toString(), '0.CHAT')
    assert.equal(
      PeerName.fromHostName(`chat.${AUTH_A.toUpperCase()}.pnrp.net`).toString(),
      `${AUTH_A}.chat`,
    )
    assert.equal(
      PeerName.fromHostName(`chat.P${AUTH_D.toUpperCase()}.pnrp.net`).toString(),
      `${AUTH_D}.chat`,
    )
    assert.notEqual(
      PeerName.fromHostName('Chat.pnrp.net').toString(),
      PeerName.fromHostName('chat.pnrp.net').toString(),
    )
  })

  test('a trailing root dot is accepted; over-long names are refused', () => {
    assert.equal(PeerName.fromHostName('chat.pnrp.net.').toString(), '0.chat')
    // A valid name whose host name is exactly 253 characters, built from punycoded labels.
    const cjk = '\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d\u5341\u9fa5'
    const stem = `${AUTH_D}.` + Array(5).fill(cjk).join('.') + '.'
    const probe = PeerName.toHostName(stem + 'x').length
    const longest = stem + 'x'.repeat(1 + MAX_DNS_NAME_LENGTH - probe)
    const host = PeerName.toHostName(longest)
    assert.equal(host.length, MAX_DNS_NAME_LENGTH)
    assert.equal(PeerName.fromHostName(host).toString(), longest)
    assert.equal(PeerName.fromHostName(host + '.').toString(), longest)
    // One character more: the name has no host name, and such a host name is refused.
    throwsCode(() => PeerName.toHostName(longest + 'x'), 'PEER_E_CANNOT_CONVERT_PEER_NAME')
    const tooLong = host.replace('.xx', '.xxx')
    assert.equal(tooLong.length, MAX_DNS_NAME_LENGTH + 1)
    throwsCode(() => PeerName.fromHostName(tooLong), 'PEER_E_INVALID_PEER_HOST_NAME')
    throwsCode(() => PeerName.fromHostName(tooLong + '.'), 'PEER_E_INVALID_PEER_HOST_NAME')
    throwsCode(
      () => PeerName.fromHostName('a.'.repeat(1000) + 'pnrp.net'),
      'PEER_E_INVALID_PEER_HOST_NAME',
    )
  })
})
