/** Reading the annotated hex examples of docs/PROTOCOL.md, for the vector tests. */
import assert from 'node:assert/strict'

/**
 * The hex of the code block after `<!-- <kind>-vector: name -->` in docs/PROTOCOL.md: per
 * line, what precedes `#`, without spaces.
 */
export function annotatedHex(doc: string, kind: 'pnrp' | 'graph' | 'group', name: string): string {
  const marker = `<!-- ${kind}-vector: ${name} -->`
  const at = doc.indexOf(marker)
  assert.ok(at >= 0, `docs/PROTOCOL.md has ${marker}`)
  const open = doc.indexOf('```', at)
  const start = doc.indexOf('\n', open) + 1
  const end = doc.indexOf('```', start)
  const hex = doc
    .slice(start, end)
    .split('\n')
    .map((line) => (line.split('#')[0] as string).replace(/\s+/g, ''))
    .join('')
  assert.match(hex, /^[0-9a-f]*$/, `the ${name} block holds hex before each #`)
  return hex
}
