/**
 * Group config export and import (windows-api.md section 2, "Config export/import"):
 * `<PEERGROUPCONFIG VERSION="1.0">` with Windows' readable elements and, sealed under the
 * password (identity/sealed.ts), what a member needs to take the group to another machine:
 * the group root, the member's chain and, for the owner, the group key. The records are not
 * in it: the imported group syncs them from the members.
 *
 *   <PEERGROUPCONFIG VERSION="1.0"><IDENTITYPEERNAME>…</IDENTITYPEERNAME>
 *   <GROUPPEERNAME>…</GROUPPEERNAME><CLOUDNAME>…</CLOUDNAME><SCOPE>global</SCOPE>
 *   <CLOUDFLAGS>0</CLOUDFLAGS><DATA dt:dt="bin.base64">sealed envelope</DATA></PEERGROUPCONFIG>
 *
 * sealed plaintext = CBOR {v: 1, cloud, root, chain, ownerKey?, hints}; additional data =
 * "peerinfra/v1/group-config" 0x00 identity 0x0a group, so a config cannot be renamed.
 */
import { utf8 } from '../core/bytes.ts'
import { PeerError } from '../core/errors.ts'
import type { Random } from '../core/random.ts'
import { Certificate } from '../identity/certificate.ts'
import {
  MAX_CERTIFICATE_ENVELOPE_BYTES,
  PRIVATE_SEED_BYTES,
  XML_VERSION,
} from '../identity/constants.ts'
import {
  base64Element,
  parseWindowsDocument,
  readBase64Element,
} from '../identity/identity-info.ts'
import { domainSeparated, KeyPair } from '../identity/keys.ts'
import { openWithPassword, sealWithPassword } from '../identity/sealed.ts'
import {
  decodeMessage,
  encodeCbor,
  s,
  serializeXml,
  textOf,
  type XmlElement,
} from '../wire/index.ts'
import { GROUP_WIRE_VERSION, MAX_CHAIN_BYTES } from './constants.ts'
import { decodeChain, encodeChain, isCertificateOf, verifyMembership } from './credentials.ts'
import type { GroupState } from './state.ts'

const CONFIG_DOMAIN = 'peerinfra/v1/group-config'
const MAX_CONFIG_PLAINTEXT_BYTES = MAX_CHAIN_BYTES + 4096

const plaintextSchema = s.struct({
  v: s.literal(GROUP_WIRE_VERSION),
  cloud: s.text({ minBytes: 1, maxBytes: 1024 }),
  root: s.bytes({ min: 1, max: MAX_CERTIFICATE_ENVELOPE_BYTES }),
  chain: s.bytes({ min: 1, max: MAX_CHAIN_BYTES }),
  ownerKey: s.optional(s.bytes({ length: PRIVATE_SEED_BYTES, max: PRIVATE_SEED_BYTES })),
  hints: s.array(s.tuple([s.text({ minBytes: 1, maxBytes: 64 }), s.uint(65_535)]), { max: 4 }),
})

function aadOf(identity: string, groupPeerName: string): Uint8Array {
  return domainSeparated(CONFIG_DOMAIN, utf8(`${identity}\n${groupPeerName}`))
}

const text = (name: string, value: string): XmlElement => ({
  name,
  attributes: {},
  children: [value],
})

function configDocument(state: GroupState, data: Uint8Array): string {
  return serializeXml({
    name: 'PEERGROUPCONFIG',
    attributes: { VERSION: XML_VERSION },
    children: [
      text('IDENTITYPEERNAME', state.identity),
      text('GROUPPEERNAME', state.groupPeerName),
      text('CLOUDNAME', state.cloud),
      text('SCOPE', 'global'),
      text('CLOUDFLAGS', '0'),
      base64Element('DATA', data),
    ],
  })
}

/** Windows' PeerGroupExportConfig: the member's group config, sealed under `password`. */
export async function exportConfig(
  state: GroupState,
  password: string,
  options: { random: Random; logN?: number },
): Promise<string> {
  const plaintext = encodeCbor({
    v: GROUP_WIRE_VERSION,
    cloud: state.cloud,
    root: state.root.encode(),
    chain: encodeChain(state.chain),
    ...(state.ownerKey ? { ownerKey: state.ownerKey.exportSeed() } : {}),
    hints: (state.hints ?? []).map((h) => [h.address, h.port]),
  })
  const sealed = await sealWithPassword(
    plaintext,
    password,
    aadOf(state.identity, state.groupPeerName),
    options,
  )
  return configDocument(state, sealed)
}

/**
 * Opens a group config: E_INVALIDARG when it is not exactly one (byte-exact, as identity
 * exports), PEER_E_DECRYPTION_FAILED for a wrong password or altered bytes, the chain's codes
 * when its credentials do not verify now or are not the identity's.
 */
export async function importConfig(
  xml: string,
  password: string,
  options: { now: number; identityKey: (peerName: string) => Uint8Array },
): Promise<GroupState> {
  const doc = typeof xml === 'string' ? xml.replace(/\r?\n$/, '') : xml
  const { children, bad } = parseWindowsDocument(doc, 'PEERGROUPCONFIG')
  const names = ['IDENTITYPEERNAME', 'GROUPPEERNAME', 'CLOUDNAME', 'SCOPE', 'CLOUDFLAGS', 'DATA']
  if (children.length !== names.length || children.some((c, i) => c.name !== names[i])) {
    throw bad(`expected ${names.map((n) => `<${n}>`).join(', ')}`)
  }
  const [identity, group] = children.slice(0, 2).map((c) => textOf(c)) as [string, string]
  const data = readBase64Element(children[5] as XmlElement, bad)
  const plaintext = await openWithPassword(
    data,
    password,
    aadOf(identity, group),
    'group config (<PEERGROUPCONFIG>)',
    MAX_CONFIG_PLAINTEXT_BYTES,
  )
  const inner = decodeMessage(plaintext, plaintextSchema, {
    what: 'group config',
    code: 'E_INVALIDARG',
    versions: [GROUP_WIRE_VERSION],
  })
  const root = Certificate.decode(inner.root)
  const chain = decodeChain(inner.chain)
  const leaf = verifyMembership(chain, {
    groupKey: root.subject,
    groupPeerName: group,
    now: options.now,
  })
  if (!isCertificateOf(leaf, options.identityKey(identity), identity)) {
    throw new PeerError(
      'PEER_E_INVALID_CREDENTIAL',
      `the config's credentials are not ${identity}'s`,
    )
  }
  const ownerKey = inner.ownerKey ? KeyPair.fromSeed(inner.ownerKey) : undefined
  if (ownerKey && !ownerKey.publicKey.equals(root.subjectKey)) {
    throw bad('its group key is not the group root key')
  }
  const state: GroupState = {
    groupPeerName: group,
    identity,
    cloud: inner.cloud,
    root,
    chain,
    ...(ownerKey ? { ownerKey } : {}),
    hints: inner.hints.map(([address, port]) => ({ address, port })),
  }
  if (configDocument(state, data) !== doc)
    throw bad('it has been altered (a config must be byte-exact)')
  return state
}
