let cachedContext: Context | undefined

export function getCachedContext() {
  return cachedContext
}

export function setCacheContext(ctx: Context) {
  cachedContext = ctx
}
