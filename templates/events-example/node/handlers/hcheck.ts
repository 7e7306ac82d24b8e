import { setCacheContext } from '../utils/cachedContext'

export async function hcheck(ctx: Context, next: () => Promise<any>) {
  setCacheContext(ctx)
  ctx.set('Cache-Control', 'no-cache')
  ctx.body = 'ok'
  ctx.status = 200
  await next()
}
