// `node --import ./register.mjs ...` installs the resolution hook in hooks.mjs.
import { register } from 'node:module'

register('./hooks.mjs', import.meta.url)
