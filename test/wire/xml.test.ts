import { test, describe } from 'node:test'
import assert from 'node:assert/strict'

import { PeerError } from '../../src/core/errors.ts'
import { SeededRandom } from '../../src/core/random.ts'
import {
  MAX_XML_ATTRIBUTES,
  MAX_XML_BYTES,
  MAX_XML_DEPTH,
  MAX_XML_ELEMENTS,
} from '../../src/wire/constants.ts'
import {
  childElements,
  escapeXmlAttribute,
  escapeXmlText,
  parseXml,
  serializeXml,
  textOf,
  type XmlElement,
} from '../../src/wire/xml.ts'
import { throwsPeerError } from '../helpers/assert-peer-error.ts'

function invalid(text: string, message?: RegExp): PeerError {
  return throwsPeerError(() => parseXml(text), 'E_INVALIDARG', message)
}

function nested(depth: number): string {
  return '<e>'.repeat(depth) + '</e>'.repeat(depth)
}

describe('parseXml', () => {
  test('parses attributes, nested elements and text', () => {
    const doc = parseXml(
      '<?xml version="1.0" encoding="utf-8"?>\n' +
        '<PEERIDENTITYINFO version="1.0">' +
        '<IDENTITY peername="0.alice" kind=\'user\'><NAME>Alice</NAME><EMPTY/></IDENTITY>' +
        '</PEERIDENTITYINFO>\n',
    )
    assert.deepEqual(doc, {
      name: 'PEERIDENTITYINFO',
      attributes: { version: '1.0' },
      children: [
        {
          name: 'IDENTITY',
          attributes: { peername: '0.alice', kind: 'user' },
          children: [
            { name: 'NAME', attributes: {}, children: ['Alice'] },
            { name: 'EMPTY', attributes: {}, children: [] },
          ],
        },
      ],
    })
  })

  test('keeps text and whitespace exactly, in document order', () => {
    const doc = parseXml('<a>\n  one <b>two</b> three\n</a>')
    assert.deepEqual(doc.children, [
      '\n  one ',
      { name: 'b', attributes: {}, children: ['two'] },
      ' three\n',
    ])
    assert.equal(textOf(doc), '\n  one  three\n')
    assert.equal(textOf(parseXml('<a/>')), '')
  })

  test('decodes the five predefined entities and numeric references', () => {
    const doc = parseXml(
      '<a title="&lt;&gt;&amp;&quot;&apos; &#65;&#x42;">&lt;&gt;&amp;&quot;&apos; &#65;&#x42;&#x1F600;&#233;</a>',
    )
    assert.equal(doc.attributes['title'], '<>&"\' AB')
    assert.deepEqual(doc.children, ['<>&"\' AB😀é'])
  })

  test('decodes in one pass: &amp;lt; is the text &lt;', () => {
    assert.deepEqual(parseXml('<a>&amp;lt;&amp;#65;</a>').children, ['&lt;&#65;'])
  })

  test('accepts comments, processing instructions and namespaced names', () => {
    const doc = parseXml(
      '<?xml version="1.0"?><!-- before --><x:a xmlns:x="urn:x"><!-- in --><x:b/><?pi data?></x:a><!-- after -->\n',
    )
    assert.equal(doc.name, 'x:a')
    assert.deepEqual(doc.attributes, { 'xmlns:x': 'urn:x' })
    assert.deepEqual(doc.children, [{ name: 'x:b', attributes: {}, children: [] }])
    const selfClosed = parseXml('<!-- <x/> --><?p <y/> ?>\n<a b="/>"/>\n<!-- c -->\n<?pi x?>\n')
    assert.deepEqual(selfClosed, { name: 'a', attributes: { b: '/>' }, children: [] })
  })

  test('refuses DOCTYPE and ENTITY declarations', () => {
    for (const text of [
      '<!DOCTYPE a><a/>',
      '<!doctype a><a/>',
      '<!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>',
      '<!DOCTYPE a SYSTEM "http://example.com/a.dtd"><a/>',
      '<a><!ENTITY x "y"></a>',
    ]) {
      invalid(text, /DOCTYPE and entity declarations are not allowed/)
    }
  })

  test('refuses a billion-laughs document without expanding anything', () => {
    const laughs =
      '<!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ).join('') +
      ']><lolz>&lol9;</lolz>'
    invalid(laughs, /DOCTYPE/)
  })

  test('refuses malformed XML with E_INVALIDARG', () => {
    for (const text of [
      '',
      '   ',
      'just text',
      '<a>',
      '<a></b>',
      '<a><b></a></b>',
      '</a>',
      '<a b=1/>',
      '<a b/>',
      '<a b="1" b="2"/>',
      '<a>x & y</a>',
      '<a b="x & y"/>',
      '<1a/>',
      '<a/>text',
      '<a/><!-- c -->text',
      '<a/>x>',
      '<a/>&amp;',
      '<a b=">"/>text',
      "<a b='/>'/>text",
      '<a></a>trailing',
      'text<a/>',
    ]) {
      const err = invalid(text)
      assert.match(err.message, /^XML document is not valid: /)
    }
  })

  test('uses the code and description passed', () => {
    throwsPeerError(
      () => parseXml('<a>', { code: 'PEER_E_INVALID_ATTRIBUTES', what: 'record attributes' }),
      'PEER_E_INVALID_ATTRIBUTES',
      /^record attributes is not valid: /,
    )
    throwsPeerError(
      () => parseXml('<a>&bogus;</a>', { code: 'PEER_E_INVALID_SEARCH' }),
      'PEER_E_INVALID_SEARCH',
    )
  })

  test('refuses two roots', () => {
    invalid('<a/><b/>', /exactly one root element/)
    invalid('<a></a>\n<a></a>', /root/)
    invalid('<a/><!-- c --><b>x</b>', /root/)
  })

  test('refuses unknown entities, &#0; and invalid character references', () => {
    invalid('<a>&nbsp;</a>', /unknown entity &nbsp;/)
    invalid('<a>&copy;</a>', /unknown entity/)
    invalid('<a b="&foo;"/>', /unknown entity &foo;/)
    invalid('<a>&#0;</a>', /&#0; is not a valid character/)
    invalid('<a>&#x0;</a>', /not a valid character/)
    invalid('<a>&#xD800;</a>', /not a valid character/)
    invalid('<a>&#xDFFF;</a>', /not a valid character/)
    invalid('<a>&#x110000;</a>', /not a valid character/)
    invalid('<a>&#xZZ;</a>')
    invalid('<a>&#;</a>')
    invalid('<a>&averyveryverylongname;</a>')
    assert.deepEqual(parseXml('<a>&#x10FFFF;&#1114111;</a>').children, ['\u{10FFFF}\u{10FFFF}'])
  })

  test('refuses names the parser cannot hold safely', () => {
    invalid('<__proto__/>')
    invalid('<a __proto__="x"/>')
    invalid('<a><constructor/><__proto__ x="1"/></a>')
  })

  test('nesting up to maxDepth is accepted, deeper is refused', () => {
    assert.equal(MAX_XML_DEPTH, 32)
    assert.equal(parseXml(nested(MAX_XML_DEPTH)).name, 'e')
    invalid(nested(MAX_XML_DEPTH + 1), /nesting deeper than 32/)
    assert.equal(parseXml(nested(3), { maxDepth: 3 }).name, 'e')
    throwsPeerError(() => parseXml(nested(4), { maxDepth: 3 }), 'E_INVALIDARG', /deeper than 3/)
  })

  test('very deep documents are refused as bad input, never with a crash', () => {
    for (const depth of [200, 5000]) invalid(nested(depth))
  })

  test('more than maxElements elements is refused', () => {
    const wide = (n: number): string => '<r>' + '<c/>'.repeat(n - 1) + '</r>'
    assert.equal(parseXml(wide(5), { maxElements: 5 }).children.length, 4)
    throwsPeerError(
      () => parseXml(wide(6), { maxElements: 5 }),
      'E_INVALIDARG',
      /more than 5 elements/,
    )
    assert.equal(MAX_XML_ELEMENTS, 10_000)
    assert.equal(parseXml(wide(MAX_XML_ELEMENTS)).children.length, MAX_XML_ELEMENTS - 1)
    invalid(wide(MAX_XML_ELEMENTS + 1), /more than 10000 elements/)
  })

  test('input above maxBytes is PEER_E_TOO_LARGE, counted in UTF-8 bytes', () => {
    // 10 characters, 13 bytes.
    const text = '<a>ééé</a>'
    assert.equal(text.length, 10)
    assert.equal(Buffer.byteLength(text), 13)
    assert.equal(parseXml(text, { maxBytes: 13 }).name, 'a')
    throwsPeerError(() => parseXml(text, { maxBytes: 12 }), 'PEER_E_TOO_LARGE', /larger than 12/)
    throwsPeerError(() => parseXml('<a>' + 'x'.repeat(MAX_XML_BYTES) + '</a>'), 'PEER_E_TOO_LARGE')
    throwsPeerError(
      () => parseXml('<a/>', { maxBytes: 3, code: 'PEER_E_INVALID_ATTRIBUTES' }),
      'PEER_E_TOO_LARGE',
    )
  })

  test('refuses input that is not a string', () => {
    for (const value of [undefined, null, 1, Buffer.from('<a/>'), { name: 'a' }]) {
      invalid(value as unknown as string, /expected text/)
    }
  })
})

describe('CDATA sections', () => {
  test('are literal text: nothing in them is decoded or refused as markup', () => {
    assert.equal(textOf(parseXml('<a><![CDATA[x & y < z]]></a>')), 'x & y < z')
    assert.deepEqual(parseXml('<a><![CDATA[&amp; &bogus; <b/> &#0;]]></a>').children, [
      '&amp; &bogus; <b/> &#0;',
    ])
    assert.equal(textOf(parseXml('<a><![CDATA[a]]]]><![CDATA[>b]]></a>')), 'a]]>b')
  })

  test('join the text around them into one child; empty ones leave nothing', () => {
    const doc = parseXml('<a>p &amp; <![CDATA[<q> & ]]>r<b/><![CDATA[s]]>t&#65;</a>')
    assert.deepEqual(doc.children, [
      'p & <q> & r',
      { name: 'b', attributes: {}, children: [] },
      'stA',
    ])
    assert.deepEqual(parseXml('<a><![CDATA[]]></a>'), parseXml('<a/>'))
    assert.deepEqual(parseXml('<a>x<![CDATA[]]>y</a>').children, ['xy'])
  })

  test('round-trip through serializeXml as escaped text', () => {
    const doc = parseXml('<a k="v"><![CDATA[1 < 2 && "q" ]]]]><![CDATA[>]]></a>')
    const text = serializeXml(doc)
    assert.equal(text, '<a k="v">1 &lt; 2 &amp;&amp; "q" ]]&gt;</a>')
    assert.deepEqual(parseXml(text), doc)
  })

  test('still refuse characters XML does not allow', () => {
    invalid('<a><![CDATA[x\u0001y]]></a>', /control character/)
    invalid('<a><![CDATA[\uffff]]></a>', /control character/)
    throwsPeerError(
      () => parseXml('<a><![CDATA[\u0008]]></a>', { code: 'PEER_E_INVALID_SEARCH' }),
      'PEER_E_INVALID_SEARCH',
    )
  })

  test('outside the root element are refused', () => {
    invalid('<![CDATA[x]]><a/>', /CDATA outside the root element/)
    invalid('<a/><![CDATA[x]]>', /CDATA outside the root element/)
    invalid('<a></a><![CDATA[]]>', /CDATA outside the root element/)
  })

  test('count as text for childElements', () => {
    const bad = (problem: string): Error => new PeerError('PEER_E_INVALID_ATTRIBUTES', problem)
    assert.equal(childElements(parseXml('<l><![CDATA[ \n]]><i/></l>'), bad).length, 1)
    throwsPeerError(
      () => childElements(parseXml('<l><i/><![CDATA[x]]></l>'), bad),
      'PEER_E_INVALID_ATTRIBUTES',
      /unexpected text inside <l>/,
    )
  })
})

describe('attribute count', () => {
  const withAttributes = (n: number): string =>
    '<r><e ' + Array.from({ length: n }, (_, i) => `a${i}="${i}"`).join(' ') + '/></r>'

  test('up to MAX_XML_ATTRIBUTES per element is accepted, more is refused', () => {
    assert.equal(MAX_XML_ATTRIBUTES, 64)
    const doc = parseXml(withAttributes(MAX_XML_ATTRIBUTES))
    const e = doc.children[0] as XmlElement
    assert.equal(Object.keys(e.attributes).length, 64)
    assert.equal(e.attributes['a63'], '63')
    invalid(withAttributes(MAX_XML_ATTRIBUTES + 1), /<e> has 65 attributes, more than 64/)
    invalid(withAttributes(1000), /more than 64/)
  })

  test("the limit is per element, and refused with the caller's code", () => {
    const many = '<r ' + Array.from({ length: 40 }, (_, i) => `r${i}="1"`).join(' ') + '>'
    const child = '<c ' + Array.from({ length: 40 }, (_, i) => `c${i}="1"`).join(' ') + '/>'
    assert.equal(parseXml(many + child + child + '</r>').children.length, 2)
    throwsPeerError(
      () =>
        parseXml(withAttributes(65), {
          code: 'PEER_E_INVALID_ATTRIBUTES',
          what: 'record attributes',
        }),
      'PEER_E_INVALID_ATTRIBUTES',
      /^record attributes is not valid: <e> has 65 attributes/,
    )
    assert.equal(parseXml(withAttributes(3), { maxAttributes: 3 }).name, 'r')
    throwsPeerError(
      () => parseXml(withAttributes(4), { maxAttributes: 3 }),
      'E_INVALIDARG',
      /more than 3/,
    )
  })
})

describe('work done before the tree limits are checked', () => {
  test('documents filling MAX_XML_BYTES are refused as bad input, never with a crash', () => {
    // fast-xml-parser builds its tree before depth and element counts are checked; the input
    // size bounds that work.
    const deep = nested(Math.floor(MAX_XML_BYTES / 7))
    assert.ok(Buffer.byteLength(deep) <= MAX_XML_BYTES)
    invalid(deep)
    const wide = '<r>' + '<c/>'.repeat(Math.floor((MAX_XML_BYTES - 7) / 4)) + '</r>'
    assert.ok(Buffer.byteLength(wide) <= MAX_XML_BYTES)
    invalid(wide, /more than 10000 elements/)
    // fast-xml-parser's own nesting cap applies whatever maxDepth a caller passes.
    assert.equal(parseXml(nested(101), { maxDepth: 1000 }).name, 'e')
    throwsPeerError(
      () => parseXml(nested(102), { maxDepth: 1000 }),
      'E_INVALIDARG',
      /nested tags exceeded/,
    )
    const manyAttributes = Array.from({ length: 10_000 }, (_, i) => `a${i}="1"`).join(' ')
    assert.ok(manyAttributes.length < MAX_XML_BYTES)
    invalid(`<r ${manyAttributes}/>`, /<r> has 10000 attributes, more than 64/)
  })
})

describe('parseXml fuzz', () => {
  test('mutated documents give an element or a PeerError, never another error', () => {
    const base =
      '<?xml version="1.0"?><root a="1&amp;2" b=\'x\'><c>t&lt;&#65;&#x1F600;</c>' +
      '<!-- c --><d/><![CDATA[z]]></root>'
    const alphabet = ['<', '>', '/', '&', ';', '#', 'x', '"', "'", '=', '!', '?', '[', ']', '-']
    alphabet.push('a', ' ', ':', '_', '\n', 'é', '\u0000', '&#0;', '<!DOCTYPE', '__proto__')
    const random = new SeededRandom('xml-fuzz')
    let accepted = 0
    for (let i = 0; i < 2000; i++) {
      let text = base
      for (let k = 1 + random.int(3); k > 0; k--) {
        const at = random.int(text.length + 1)
        const piece = alphabet[random.int(alphabet.length)] ?? ''
        const op = random.int(3)
        if (op === 0) text = text.slice(0, at) + piece + text.slice(at + 1)
        else if (op === 1) text = text.slice(0, at) + piece + text.slice(at)
        else text = text.slice(0, at) + text.slice(at + 1)
      }
      try {
        const root = parseXml(text)
        assert.equal(typeof root.name, 'string')
        accepted++
      } catch (err) {
        if (!(err instanceof PeerError)) {
          assert.fail(`${JSON.stringify(text)} threw ${String(err)}, not a PeerError`)
        }
        assert.equal(err.code, 'E_INVALIDARG', `${JSON.stringify(text)}: ${err.message}`)
      }
    }
    assert.ok(accepted > 0 && accepted < 2000, `${accepted} accepted`)
  })
})

describe('serializeXml', () => {
  test('writes compact XML with escaped text and attributes', () => {
    const el: XmlElement = {
      name: 'a',
      attributes: { q: 'say "hi" & <bye>', s: "it's" },
      children: ['1 < 2 && 3 > 2 ]]>', { name: 'b', attributes: { k: 'v' }, children: [] }],
    }
    assert.equal(
      serializeXml(el),
      '<a q="say &quot;hi&quot; &amp; &lt;bye&gt;" s="it\'s">1 &lt; 2 &amp;&amp; 3 &gt; 2 ]]&gt;<b k="v"/></a>',
    )
    assert.equal(escapeXmlText('<&>"\''), '&lt;&amp;&gt;"\'')
    assert.equal(escapeXmlAttribute('<&>"\''), "&lt;&amp;&gt;&quot;'")
  })

  test('round-trips through parseXml', () => {
    const trees: XmlElement[] = [
      { name: 'empty', attributes: {}, children: [] },
      {
        name: 'PEERINVITATIONINFO',
        attributes: { version: '1.0', note: '&amp; <tag> "q" \'a\' ]]>' },
        children: [
          '  leading & trailing  ',
          {
            name: 'CLOUD',
            attributes: {},
            children: ['Global_', { name: 'x', attributes: { y: '' }, children: [] }],
          },
          'ünïcødé 😀 &lt; literal',
          { name: 'z', attributes: {}, children: ['<not-a-tag/>'] },
        ],
      },
    ]
    for (const tree of trees) {
      const text = serializeXml(tree)
      assert.deepEqual(parseXml(text), tree)
      assert.equal(serializeXml(parseXml(text)), text)
    }
  })
})

describe('childElements', () => {
  const bad = (problem: string): Error => new PeerError('PEER_E_INVALID_ATTRIBUTES', problem)

  test('returns child elements, ignoring whitespace between them', () => {
    const doc = parseXml('<list>\n  <item n="1"/>\n\t<item n="2">text</item>\r\n</list>')
    const items = childElements(doc, bad)
    assert.deepEqual(
      items.map((i) => i.attributes['n']),
      ['1', '2'],
    )
    assert.deepEqual(childElements(parseXml('<list/>'), bad), [])
  })

  test('refuses stray text through the given error factory', () => {
    const doc = parseXml('<list><item/>oops<item/></list>')
    throwsPeerError(
      () => childElements(doc, bad),
      'PEER_E_INVALID_ATTRIBUTES',
      /unexpected text inside <list>/,
    )
    throwsPeerError(
      () => childElements(parseXml('<list>&#32;x</list>'), bad),
      'PEER_E_INVALID_ATTRIBUTES',
    )
    // A non-breaking space is not XML whitespace.
    throwsPeerError(
      () => childElements(parseXml('<l>&#160;</l>'), bad),
      'PEER_E_INVALID_ATTRIBUTES',
    )
  })
})

describe('characters and references XML does not allow', () => {
  test('raw and referenced control characters are refused', () => {
    invalid('<a>x\u0001y</a>', /control character/)
    invalid('<a>&#1;</a>', /control character/)
    invalid('<a b="&#x1f;"/>', /control character/)
    assert.equal(textOf(parseXml('<a>tab\there&#10;</a>')), 'tab\there\n')
  })

  test('names of Object.prototype are not entities', () => {
    invalid('<a>&toString;</a>', /unknown entity/)
    invalid('<a>&constructor;</a>', /unknown entity/)
  })

  test('a long unknown entity is refused', () => {
    invalid('<a>&averyveryverylongname;</a>')
    invalid('<a>&averylongname;</a>')
  })
})
