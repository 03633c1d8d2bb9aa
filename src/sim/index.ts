/** The deterministic network simulator (DESIGN.md section 7). */
export * from './constants.ts'
export {
  SimCounters,
  emptyTally,
  type CounterOutcome,
  type CountersSnapshot,
  type DropReason,
  type SimKind,
  type Tally,
} from './counters.ts'
export { SimDatagramSocket, SimDatagramTransport, type DatagramHandler } from './datagrams.ts'
export { DEFAULT_LINK, resolveLink, type LinkModel, type ResolvedLink } from './link.ts'
export { SimNetwork, SimNode, formatSimAddress, type SimNetworkOptions } from './network.ts'
export {
  Sim,
  createSim,
  runScenario,
  scenarioSeed,
  type RunUntilOptions,
  type ScenarioOptions,
  type SimOptions,
} from './scenario.ts'
export { SimDuplex, SimStreamListener, SimStreamTransport } from './streams.ts'
