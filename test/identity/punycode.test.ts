import { test } from 'node:test'
import assert from 'node:assert/strict'
import { domainToASCII } from 'node:url'

import { MAX_PUNYCODE_INPUT, punycodeDecode, punycodeEncode } from '../../src/identity/punycode.ts'

/** RFC 3492 section 7.1 sample strings, given as code points exactly as the RFC lists them. */
const RFC_SAMPLES: ReadonlyArray<{ name: string; codePoints: number[]; encoded: string }> = [
  {
    name: '(A) Arabic (Egyptian)',
    codePoints: [
      0x0644, 0x064a, 0x0647, 0x0645, 0x0627, 0x0628, 0x062a, 0x0643, 0x0644, 0x0645, 0x0648,
      0x0634, 0x0639, 0x0631, 0x0628, 0x064a, 0x061f,
    ],
    encoded: 'egbpdaj6bu4bxfgehfvwxn',
  },
  {
    name: '(B) Chinese (simplified)',
    codePoints: [0x4ed6, 0x4eec, 0x4e3a, 0x4ec0, 0x4e48, 0x4e0d, 0x8bf4, 0x4e2d, 0x6587],
    encoded: 'ihqwcrb4cv8a8dqg056pqjye',
  },
  {
    name: '(C) Chinese (traditional)',
    codePoints: [0x4ed6, 0x5011, 0x7232, 0x4ec0, 0x9ebd, 0x4e0d, 0x8aaa, 0x4e2d, 0x6587],
    encoded: 'ihqwctvzc91f659drss3x8bo0yb',
  },
  {
    name: '(D) Czech',
    codePoints: [
      0x0050, 0x0072, 0x006f, 0x010d, 0x0070, 0x0072, 0x006f, 0x0073, 0x0074, 0x011b, 0x006e,
      0x0065, 0x006d, 0x006c, 0x0075, 0x0076, 0x00ed, 0x010d, 0x0065, 0x0073, 0x006b, 0x0079,
    ],
    encoded: 'Proprostnemluvesky-uyb24dma41a',
  },
  {
    name: '(E) Hebrew',
    codePoints: [
      0x05dc, 0x05de, 0x05d4, 0x05d4, 0x05dd, 0x05e4, 0x05e9, 0x05d5, 0x05d8, 0x05dc, 0x05d0,
      0x05de, 0x05d3, 0x05d1, 0x05e8, 0x05d9, 0x05dd, 0x05e2, 0x05d1, 0x05e8, 0x05d9, 0x05ea,
    ],
    encoded: '4dbcagdahymbxekheh6e0a7fei0b',
  },
  {
    name: '(F) Hindi (Devanagari)',
    codePoints: [
      0x092f, 0x0939, 0x0932, 0x094b, 0x0917, 0x0939, 0x093f, 0x0928, 0x094d, 0x0926, 0x0940,
      0x0915, 0x094d, 0x092f, 0x094b, 0x0902, 0x0928, 0x0939, 0x0940, 0x0902, 0x092c, 0x094b,
      0x0932, 0x0938, 0x0915, 0x0924, 0x0947, 0x0939, 0x0948, 0x0902,
    ],
    encoded: 'i1baa7eci9glrd9b2ae1bj0hfcgg6iyaf8o0a1dig0cd',
  },
  {
    name: '(G) Japanese (kanji and hiragana)',
    codePoints: [
      0x306a, 0x305c, 0x307f, 0x3093, 0x306a, 0x65e5, 0x672c, 0x8a9e, 0x3092, 0x8a71, 0x3057,
      0x3066, 0x304f, 0x308c, 0x306a, 0x3044, 0x306e, 0x304b,
    ],
    encoded: 'n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa',
  },
  {
    name: '(H) Korean (Hangul syllables)',
    codePoints: [
      0xc138, 0xacc4, 0xc758, 0xbaa8, 0xb4e0, 0xc0ac, 0xb78c, 0xb4e4, 0xc774, 0xd55c, 0xad6d,
      0xc5b4, 0xb97c, 0xc774, 0xd574, 0xd55c, 0xb2e4, 0xba74, 0xc5bc, 0xb9c8, 0xb098, 0xc88b,
      0xc744, 0xae4c,
    ],
    encoded: '989aomsvi5e83db1d2a355cv1e0vak1dwrv93d5xbh15a0dt30a5jpsd879ccm6fea98c',
  },
  {
    // The RFC shows 'b1abfaaepdrnnbgefbaDotcwatmq2g4l': the capital D is a mixed-case
    // annotation (appendix A), which this encoder does not produce. The decoder accepts it.
    name: '(I) Russian (Cyrillic)',
    codePoints: [
      0x043f, 0x043e, 0x0447, 0x0435, 0x043c, 0x0443, 0x0436, 0x0435, 0x043e, 0x043d, 0x0438,
      0x043d, 0x0435, 0x0433, 0x043e, 0x0432, 0x043e, 0x0440, 0x044f, 0x0442, 0x043f, 0x043e,
      0x0440, 0x0443, 0x0441, 0x0441, 0x043a, 0x0438,
    ],
    encoded: 'b1abfaaepdrnnbgefbadotcwatmq2g4l',
  },
  {
    name: '(J) Spanish',
    codePoints: [
      0x0050, 0x006f, 0x0072, 0x0071, 0x0075, 0x00e9, 0x006e, 0x006f, 0x0070, 0x0075, 0x0065,
      0x0064, 0x0065, 0x006e, 0x0073, 0x0069, 0x006d, 0x0070, 0x006c, 0x0065, 0x006d, 0x0065,
      0x006e, 0x0074, 0x0065, 0x0068, 0x0061, 0x0062, 0x006c, 0x0061, 0x0072, 0x0065, 0x006e,
      0x0045, 0x0073, 0x0070, 0x0061, 0x00f1, 0x006f, 0x006c,
    ],
    encoded: 'PorqunopuedensimplementehablarenEspaol-fmd56a',
  },
  {
    name: '(K) Vietnamese',
    codePoints: [
      0x0054, 0x1ea1, 0x0069, 0x0073, 0x0061, 0x006f, 0x0068, 0x1ecd, 0x006b, 0x0068, 0x00f4,
      0x006e, 0x0067, 0x0074, 0x0068, 0x1ec3, 0x0063, 0x0068, 0x1ec9, 0x006e, 0x00f3, 0x0069,
      0x0074, 0x0069, 0x1ebf, 0x006e, 0x0067, 0x0056, 0x0069, 0x1ec7, 0x0074,
    ],
    encoded: 'TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g',
  },
  {
    name: '(L) 3<nen>B<gumi><kinpachi><sensei>',
    codePoints: [0x0033, 0x5e74, 0x0042, 0x7d44, 0x91d1, 0x516b, 0x5148, 0x751f],
    encoded: '3B-ww4c5e180e575a65lsy2b',
  },
  {
    name: '(M) <amuro><namie>-with-SUPER-MONKEYS',
    codePoints: [
      0x5b89, 0x5ba4, 0x5948, 0x7f8e, 0x6075, 0x002d, 0x0077, 0x0069, 0x0074, 0x0068, 0x002d,
      0x0053, 0x0055, 0x0050, 0x0045, 0x0052, 0x002d, 0x004d, 0x004f, 0x004e, 0x004b, 0x0045,
      0x0059, 0x0053,
    ],
    encoded: '-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n',
  },
  {
    name: '(N) Hello-Another-Way-<sorezore><no><basho>',
    codePoints: [
      0x0048, 0x0065, 0x006c, 0x006c, 0x006f, 0x002d, 0x0041, 0x006e, 0x006f, 0x0074, 0x0068,
      0x0065, 0x0072, 0x002d, 0x0057, 0x0061, 0x0079, 0x002d, 0x305d, 0x308c, 0x305e, 0x308c,
      0x306e, 0x5834, 0x6240,
    ],
    encoded: 'Hello-Another-Way--fc4qua05auwb3674vfr0b',
  },
  {
    name: '(O) <hitotsu><yane><no><shita>2',
    codePoints: [0x3072, 0x3068, 0x3064, 0x5c4b, 0x6839, 0x306e, 0x4e0b, 0x0032],
    encoded: '2-u9tlzr9756bt3uc0v',
  },
  {
    name: '(P) Maji<de>Koi<suru>5<byou><mae>',
    codePoints: [
      0x004d, 0x0061, 0x006a, 0x0069, 0x3067, 0x004b, 0x006f, 0x0069, 0x3059, 0x308b, 0x0035,
      0x79d2, 0x524d,
    ],
    encoded: 'MajiKoi5-783gue6qz075azm5e',
  },
  {
    name: '(Q) <pafii>de<runba>',
    codePoints: [0x30d1, 0x30d5, 0x30a3, 0x30fc, 0x0064, 0x0065, 0x30eb, 0x30f3, 0x30d0],
    encoded: 'de-jg4avhby1noc0d',
  },
  {
    name: '(R) <sono><supiido><de>',
    codePoints: [0x305d, 0x306e, 0x30b9, 0x30d4, 0x30fc, 0x30c9, 0x3067],
    encoded: 'd9juau41awczczp',
  },
  {
    name: '(S) -> $1.00 <-',
    codePoints: [0x2d, 0x3e, 0x20, 0x24, 0x31, 0x2e, 0x30, 0x30, 0x20, 0x3c, 0x2d],
    encoded: '-> $1.00 <--',
  },
]

/**
 * RFC samples whose expected encoding is also checked against node's IDNA (UTS 46) ToASCII.
 * IDNA lowercases ASCII, and the case of basic code points does not affect the deltas, so the
 * IDNA result is 'xn--' plus the lowercased expected encoding. Left out: (M) and (N), which
 * have hyphens IDNA treats specially, and (S), which is pure ASCII with characters IDNA rejects.
 */
const RFC_SAMPLES_CHECKED_WITH_IDNA = new Set('ABCDEFGHIJKLOPQR')

/**
 * Lowercase, NFC strings that IDNA leaves unchanged, so that domainToASCII(s) must be exactly
 * 'xn--' + punycodeEncode(s). No emoji and no U+00DF (ß), whose IDNA handling varies.
 */
const IDNA_STABLE = [
  'münchen',
  'bücher',
  'café',
  'naïve',
  'español',
  'português',
  'résumé-2024',
  '中文',
  '日本語',
  'ひらがな',
  'カタカナ',
  'abc中文def',
  'العربية',
  'עברית',
  'हिन्दी',
  'ह',
  '한국어',
  'ελληνικά',
  'русский',
  'ไทย',
  'tiếngviệt',
]

/**
 * Encodes one delta as a generalized variable-length integer (RFC 3492 section 3.3) with the
 * initial bias of 72, i.e. the digits of the first delta of an encoded string with no literal
 * portion. Used to craft decoder inputs the encoder can never produce.
 */
function firstDeltaDigits(delta: number): string {
  const digit = (d: number): string => 'abcdefghijklmnopqrstuvwxyz0123456789'.charAt(d)
  let out = ''
  let q = delta
  for (let k = 36; ; k += 36) {
    const t = k <= 72 ? 1 : k >= 72 + 26 ? 26 : k - 72
    if (q < t) return out + digit(q)
    out += digit(t + ((q - t) % (36 - t)))
    q = Math.floor((q - t) / (36 - t))
  }
}

/** mulberry32: a tiny deterministic PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test('RFC 3492 section 7.1 samples encode and decode as the RFC shows', () => {
  for (const sample of RFC_SAMPLES) {
    const text = String.fromCodePoint(...sample.codePoints)
    assert.equal(punycodeEncode(text), sample.encoded, sample.name)
    assert.equal(punycodeDecode(sample.encoded), text, sample.name)
    // digits are case-insensitive (the literal part before the last '-' is not)
    const cut = sample.encoded.lastIndexOf('-') + 1
    const upperDigits = sample.encoded.slice(0, cut) + sample.encoded.slice(cut).toUpperCase()
    assert.equal(punycodeDecode(upperDigits), text, `${sample.name} with uppercase digits`)
  }
})

test('RFC sample (I) decodes from its mixed-case-annotated form', () => {
  const russian = RFC_SAMPLES.find((s) => s.name.startsWith('(I)'))
  assert.ok(russian)
  assert.equal(
    punycodeDecode('b1abfaaepdrnnbgefbaDotcwatmq2g4l'),
    String.fromCodePoint(...russian.codePoints),
  )
})

test('RFC sample expectations agree with node IDNA (domainToASCII)', () => {
  let checked = 0
  for (const sample of RFC_SAMPLES) {
    const letter = sample.name.charAt(1)
    if (!RFC_SAMPLES_CHECKED_WITH_IDNA.has(letter)) continue
    const text = String.fromCodePoint(...sample.codePoints)
    assert.equal(domainToASCII(text), 'xn--' + sample.encoded.toLowerCase(), sample.name)
    checked++
  }
  assert.equal(checked, RFC_SAMPLES_CHECKED_WITH_IDNA.size)
})

test('lowercase IDNA-stable strings match domainToASCII and round-trip', () => {
  for (const s of IDNA_STABLE) {
    assert.equal(s, s.normalize('NFC'), `${s} is NFC`)
    const encoded = punycodeEncode(s)
    assert.equal('xn--' + encoded, domainToASCII(s), s)
    assert.equal(punycodeDecode(encoded), s, s)
  }
})

test('known value from the brief: münchen', () => {
  assert.equal(punycodeEncode('münchen'), 'mnchen-3ya')
  assert.equal(punycodeDecode('mnchen-3ya'), 'münchen')
})

test('pure ASCII and empty strings', () => {
  assert.equal(punycodeEncode(''), '')
  assert.equal(punycodeDecode(''), '')
  assert.equal(punycodeEncode('abc'), 'abc-')
  assert.equal(punycodeDecode('abc-'), 'abc')
  assert.equal(punycodeEncode('-'), '--')
  assert.equal(punycodeDecode('--'), '-')
})

test('case of basic code points is preserved', () => {
  const encoded = punycodeEncode('MünChen')
  // the deltas do not depend on the case of basic code points, only the literal part differs
  assert.equal(encoded, 'MnChen-3ya')
  assert.equal(punycodeDecode(encoded), 'MünChen')
  assert.equal(punycodeDecode('MnChen-3YA'), 'MünChen')
  assert.notEqual(punycodeDecode(punycodeEncode('MÜNCHEN')), punycodeDecode('mnchen-3ya'))
  assert.equal(punycodeDecode(punycodeEncode('MÜNCHEN')), 'MÜNCHEN')
})

test('astral characters are single code points and round-trip', () => {
  // 0x1F600 - 0x80 = 128384, worked out by hand with the section 3.3 rules: 'e28h'
  assert.equal(punycodeEncode('\u{1F600}'), 'e28h')
  assert.equal(firstDeltaDigits(0x1f600 - 0x80), 'e28h')
  for (const s of [
    '\u{1F600}',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    'a\u{1F600}b\u{1F601}c',
    '\u{10000}\u{10FFFF}',
    'x\u{20000}中\u{1F600}ü',
  ]) {
    const encoded = punycodeEncode(s)
    assert.match(encoded, /^[\x20-\x7e]*$/, s)
    assert.equal(punycodeDecode(encoded), s, s)
  }
})

test('seeded random strings round-trip', () => {
  const random = mulberry32(0x5eed_1234)
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))
  const ranges: ReadonlyArray<readonly [number, number]> = [
    [0x20, 0x7e], // printable ASCII, delimiter included
    [0x00, 0x1f], // ASCII controls
    [0x80, 0xff], // Latin-1
    [0x100, 0x7ff], // two-byte UTF-8
    [0x3040, 0x30ff], // kana
    [0x4e00, 0x9fff], // CJK
    [0xac00, 0xd7a3], // Hangul
    [0xe000, 0xfffd], // above the surrogates
    [0x10000, 0x1ffff], // astral, plane 1
    [0x20000, 0x10ffff], // astral, up to the last code point
  ]
  for (let iteration = 0; iteration < 2000; iteration++) {
    const length = int(0, 40)
    const codePoints: number[] = []
    for (let j = 0; j < length; j++) {
      const range = ranges[int(0, ranges.length - 1)]
      assert.ok(range)
      codePoints.push(int(range[0], range[1]))
    }
    const s = String.fromCodePoint(...codePoints)
    const encoded = punycodeEncode(s)
    assert.match(encoded, /^[\x00-\x7f]*$/)
    const decoded = punycodeDecode(encoded)
    if (decoded !== s) {
      assert.fail(`round-trip ${iteration} failed for ${JSON.stringify(codePoints)}: ${encoded}`)
    }
  }
})

test('decoder rejects non-basic input', () => {
  assert.throws(() => punycodeDecode('ü'), { name: 'RangeError', message: /non-basic/ })
  assert.throws(() => punycodeDecode('abc-ü'), { name: 'RangeError', message: /non-basic/ })
  assert.throws(() => punycodeDecode('\u{1F600}'), { name: 'RangeError', message: /non-basic/ })
})

test('decoder rejects invalid and missing digits', () => {
  assert.throws(() => punycodeDecode('abc-!'), { name: 'RangeError', message: /invalid digit/ })
  assert.throws(() => punycodeDecode('mnchen-3y!'), {
    name: 'RangeError',
    message: /invalid digit/,
  })
  assert.throws(() => punycodeDecode('-'), { name: 'RangeError', message: /invalid digit/ })
  // '9' is digit 35, never below a threshold, so the delta never ends
  assert.throws(() => punycodeDecode('abc-99'), { name: 'RangeError', message: /truncated/ })
})

test('decoder rejects overflow', () => {
  assert.throws(() => punycodeDecode('9'.repeat(32)), {
    name: 'RangeError',
    message: /overflow/,
  })
  assert.throws(() => punycodeDecode(firstDeltaDigits(2 ** 31)), {
    name: 'RangeError',
    message: /overflow/,
  })
  assert.throws(() => punycodeDecode('abc-' + firstDeltaDigits(2 ** 40)), {
    name: 'RangeError',
    message: /overflow/,
  })
})

test('decoder rejects code points beyond U+10FFFF and surrogates', () => {
  assert.equal(punycodeDecode(firstDeltaDigits(0x10ffff - 0x80)), '\u{10FFFF}')
  assert.throws(() => punycodeDecode(firstDeltaDigits(0x110000 - 0x80)), {
    name: 'RangeError',
    message: /beyond U\+10FFFF/,
  })
  assert.equal(punycodeDecode(firstDeltaDigits(0xd7ff - 0x80)), '\u{D7FF}')
  assert.throws(() => punycodeDecode(firstDeltaDigits(0xd800 - 0x80)), {
    name: 'RangeError',
    message: /surrogate/,
  })
  assert.throws(() => punycodeDecode(firstDeltaDigits(0xdfff - 0x80)), {
    name: 'RangeError',
    message: /surrogate/,
  })
  assert.equal(punycodeDecode(firstDeltaDigits(0xe000 - 0x80)), '\u{E000}')
  // not an overflow: 'z' (digit 25) ends a delta at the third digit, and the run of small
  // deltas walks n up into the surrogate range before any integer gets large
  assert.throws(() => punycodeDecode('z'.repeat(32)), {
    name: 'RangeError',
    message: /U\+DEF3 is a surrogate/,
  })
})

test('decoder rejects input longer than MAX_PUNYCODE_INPUT', () => {
  assert.equal(MAX_PUNYCODE_INPUT, 1024)
  const atLimit = 'a'.repeat(MAX_PUNYCODE_INPUT - 1) + '-'
  assert.equal(punycodeDecode(atLimit), 'a'.repeat(MAX_PUNYCODE_INPUT - 1))
  assert.throws(() => punycodeDecode('a'.repeat(MAX_PUNYCODE_INPUT) + '-'), {
    name: 'RangeError',
    message: /longer than/,
  })
  assert.throws(() => punycodeDecode('a'.repeat(1_000_000)), {
    name: 'RangeError',
    message: /longer than/,
  })
})

test('encoder rejects overflow and lone surrogates', () => {
  // the first delta is (0x10FFFF - 0x80) * 2101, beyond 2^31 - 1
  assert.throws(() => punycodeEncode('a'.repeat(2100) + '\u{10FFFF}'), {
    name: 'RangeError',
    message: /overflow/,
  })
  assert.throws(() => punycodeEncode('a\uD800b'), { name: 'RangeError', message: /surrogate/ })
  assert.throws(() => punycodeEncode('\uDC00'), { name: 'RangeError', message: /surrogate/ })
})
