/**
 * `npm run demo`: peerinfra working, step by step, on this machine only (a temporary data
 * directory, nothing on the network). Each capability adds its steps here as it lands.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pc from 'picocolors'
import { graphDemo } from './graph.ts'
import { groupDemo } from './group.ts'
import { identityDemo } from './identity.ts'
import { pnrpDemo } from './pnrp.ts'
import { simulatorDemo } from './simulator.ts'
import { transportDemo } from './transport.ts'

export interface DemoContext {
  /** A fresh folder for this run; removed at the end. */
  root: string
  step(title: string): void
  say(label: string, value: string): void
}

function context(root: string): DemoContext {
  let n = 0
  return {
    root,
    step: (title) => process.stdout.write(`\n${pc.bold(pc.cyan(`${++n}. ${title}`))}\n`),
    say: (label, value) => process.stdout.write(`   ${pc.dim(label.padEnd(18))} ${value}\n`),
  }
}

const root = await mkdtemp(join(tmpdir(), 'peerinfra-demo-'))
try {
  process.stdout.write(pc.bold('peerinfra demo') + pc.dim(`  (data in ${root})\n`))
  const demo = context(root)
  await identityDemo(demo)
  await transportDemo(demo)
  await simulatorDemo(demo)
  await pnrpDemo(demo)
  await graphDemo(demo)
  await groupDemo(demo)
  process.stdout.write(`\n${pc.green('✔ demo finished')}\n`)
} finally {
  await rm(root, { recursive: true, force: true })
}
