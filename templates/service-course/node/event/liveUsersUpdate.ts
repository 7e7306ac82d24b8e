export async function updateLiveUsers(_ctx: StatusChangeContext) {
  console.log('EVENT HANDLER: received event')
  return true
}
