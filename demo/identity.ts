/** The Identity Manager part of the demo. */
import { join } from 'node:path'
import pc from 'picocolors'
import {
  Certificate,
  KeyPair,
  PeerError,
  PeerName,
  PeerNode,
  issueCertificate,
  systemRandom,
  verifyChain,
} from '../src/index.ts'
import { DOMAIN } from '../src/identity/index.ts'
import { encodeCbor } from '../src/wire/index.ts'
import type { DemoContext } from './index.ts'

const YEAR = 365 * 24 * 3600 * 1000

export async function identityDemo(demo: DemoContext): Promise<void> {
  const alicesNode = await PeerNode.start({ dataDir: join(demo.root, 'alice') })
  const bobsNode = await PeerNode.start({ dataDir: join(demo.root, 'bob') })
  try {
    demo.step('Two identities, each an Ed25519 key and the secured peer name it owns')
    const alice = await alicesNode.identities.create({ classifier: 'alice', friendlyName: 'Alice' })
    const bob = await bobsNode.identities.create({ classifier: 'bob', friendlyName: 'Bob' })
    for (const id of [alice, bob]) {
      demo.say(`${id.friendlyName}'s peer name`, pc.bold(id.peerName))
      demo.say('host name', PeerName.toHostName(id.peerName))
    }
    const unsecured = PeerName.create(null, 'münchen.chat')
    demo.say('unsecured name', `${unsecured.toString()}  →  ${PeerName.toHostName(unsecured)}`)
    demo.say('back again', PeerName.fromHostName(PeerName.toHostName(unsecured)).toString())

    demo.step("Alice's public identity info, as an inviter receives it")
    const info = alicesNode.identities.getInfoXml(alice.peerName)
    demo.say('<PEERIDENTITYINFO>', `${info.slice(0, 72)}… (${info.length} characters)`)

    demo.step('Alice exports her identity under a password; a second machine imports it')
    const exported = await alicesNode.identities.export(
      alice.peerName,
      'correct horse battery staple',
    )
    demo.say(
      'export',
      `${exported.length} characters of <PEERIDENTITYEXPORT>, key sealed with scrypt + ChaCha20-Poly1305`,
    )
    const imported = await bobsNode.identities.import(exported, 'correct horse battery staple')
    demo.say(
      'imported',
      `${imported.peerName} (${imported.friendlyName}), same key: ${Buffer.from(imported.publicKey).equals(Buffer.from(alice.publicKey))}`,
    )
    await expectFailure(demo, 'wrong password', () => bobsNode.identities.import(exported, 'wrong'))
    const flipped =
      exported.slice(0, 200) + (exported[200] === 'A' ? 'B' : 'A') + exported.slice(201)
    await expectFailure(demo, 'one byte changed', () =>
      bobsNode.identities.import(flipped, 'correct horse battery staple'),
    )

    demo.step('A certificate chain: group root → Alice (admin) → Bob (member)')
    const now = alicesNode.clock.now()
    const groupKey = KeyPair.generate(systemRandom)
    const groupName = PeerName.fromParts(groupKey.publicKey.authority, 'team').toString()
    const root = issueCertificate({
      issuer: groupKey,
      type: 'group-root',
      subjectKey: groupKey.publicKey,
      subjectName: groupName,
      notBefore: now,
      notAfter: now + 10 * YEAR,
      random: systemRandom,
    })
    const aliceCert = issueCertificate({
      issuer: groupKey,
      issuerCertificate: root,
      type: 'membership',
      subjectKey: alice.key,
      subjectName: alice.peerName,
      roles: ['admin'],
      notBefore: now,
      notAfter: now + 5 * YEAR,
      random: systemRandom,
    })
    const bobCert = issueCertificate({
      issuer: alice.keyPair,
      issuerCertificate: aliceCert,
      type: 'membership',
      subjectKey: bob.key,
      subjectName: bob.peerName,
      roles: ['member'],
      notBefore: now,
      notAfter: now + YEAR,
      random: systemRandom,
    })
    const leaf = verifyChain([root, aliceCert, bobCert], { now, trustedRoot: groupKey.publicKey })
    demo.say('verified', `${leaf.subjectName} holds roles [${leaf.roles.join(', ')}], chain of 3`)

    demo.step("Bob signs himself an admin certificate in Alice's name")
    const forged = forgeCertificate(bobCert, bob.keyPair, ['admin'])
    await expectFailure(demo, 'forged chain', () => verifyChain([root, aliceCert, forged], { now }))
    await expectFailure(demo, 'expired chain', () =>
      verifyChain([root, aliceCert, bobCert], { now: now + 2 * YEAR }),
    )
  } finally {
    await alicesNode.stop()
    await bobsNode.stop()
  }
}

/** What an attacker can do: copy a certificate, change its roles, sign it with his own key. */
function forgeCertificate(original: Certificate, attacker: KeyPair, roles: string[]): Certificate {
  const tbs = encodeCbor({
    v: 1,
    type: original.type,
    serial: original.serial,
    subjectKey: original.subjectKey,
    subjectName: original.subjectName,
    issuerKey: original.issuerKey,
    issuerName: original.issuerName,
    roles,
    classifiers: original.classifiers,
    notBefore: original.notBefore,
    notAfter: original.notAfter,
  })
  return Certificate.decode(encodeCbor([tbs, attacker.sign(DOMAIN.certificate, tbs)]))
}

async function expectFailure(demo: DemoContext, label: string, fn: () => unknown): Promise<void> {
  try {
    await fn()
    throw new Error(`${label}: expected a failure`)
  } catch (err) {
    if (!(err instanceof PeerError)) throw err
    demo.say(label, `${pc.red('refused')} ${pc.bold(err.code)}: ${err.message}`)
  }
}
