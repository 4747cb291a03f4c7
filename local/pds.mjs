// A real Bluesky PDS (the reference server's code, @atproto/dev-env) on loopback, for tests.
//
// Prints one JSON line {"url": ..., "plc": ...} when it is ready, then serves until stdin
// closes or it is signalled (so it never outlives the test session that started it).
// Nothing leaves the machine: every server binds 127.0.0.1, and the AppView and moderation
// service it would call point at a closed loopback port. Data goes under $TMPDIR, which the
// caller gives per run and removes.
import dns from 'node:dns'
import net from 'node:net'
import { createRequire } from 'node:module'

// dev-env builds its URLs as http://localhost:PORT; with the servers on 127.0.0.1 only,
// localhost must resolve to it, not to ::1.
dns.setDefaultResultOrder('ipv4first')

// The servers listen(port) on every interface; pin a bare port to loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const require = createRequire(import.meta.url)
const { TestNetworkNoAppView } = require('@atproto/dev-env')

const CLOSED = 'http://127.0.0.1:9'
const network = await TestNetworkNoAppView.create({
  pds: {
    hostname: 'localhost',
    bskyAppViewUrl: CLOSED,
    bskyAppViewDid: 'did:example:appview',
    modServiceUrl: CLOSED,
    modServiceDid: 'did:example:moderation',
  },
})

process.stdout.write(JSON.stringify({ url: network.pds.url, plc: network.plc.url }) + '\n')

let closing = false
async function stop() {
  if (closing) return
  closing = true
  try {
    await network.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
