/** The bare baseline's one activity: returns at once, like a provider call that answers immediately. */
export const createBareActivities = () => ({
  async sendCode(workflowId: string): Promise<{ ref: string }> {
    return { ref: workflowId };
  },
});
