// The alert types users can switch on and off with /alerts. Delivery arrives with the alerts
// issue; preferences are stored from day one so nobody is surprised later.
export interface AlertType {
  readonly id: string;
  readonly description: string;
  readonly defaultOn: boolean;
  /** Safety alerts cannot be muted: a tripped kill switch must always reach its owner. */
  readonly mutable: boolean;
}

export const ALERT_TYPES: readonly AlertType[] = [
  { id: 'fills', description: 'every order fill', defaultOn: true, mutable: true },
  { id: 'take_profit', description: 'a take-profit cycle closed with profit', defaultOn: true, mutable: true },
  { id: 'safety_orders', description: 'a DCA safety order filled', defaultOn: true, mutable: true },
  { id: 'guards', description: 'a risk guard tripped', defaultOn: true, mutable: true },
  { id: 'kill_switch', description: 'a kill switch stopped trading', defaultOn: true, mutable: false },
  { id: 'run_status', description: 'a run started or stopped', defaultOn: true, mutable: true },
  { id: 'license', description: 'license and billing events', defaultOn: true, mutable: true },
  { id: 'daily_summary', description: 'the daily P&L summary', defaultOn: true, mutable: true },
  { id: 'weekly_summary', description: 'the weekly P&L summary', defaultOn: false, mutable: true },
  { id: 'broadcast', description: 'announcements from the team', defaultOn: true, mutable: true },
  { id: 'scanner', description: 'the coin scanner suggests or makes a rotation to a better coin', defaultOn: true, mutable: true },
  { id: 'allocation', description: 'the multi-asset router changed how your capital is split', defaultOn: true, mutable: true },
  { id: 'copy_trading', description: 'copy trading: copies made or refused, followers joining, follows stopped', defaultOn: true, mutable: true },
  { id: 'operations', description: 'operator warnings (admins only): market footprint, disputes', defaultOn: true, mutable: true },
];

export const ALERT_TYPE_IDS = ALERT_TYPES.map((t) => t.id) as [string, ...string[]];

export const findAlertType = (id: string): AlertType | undefined => ALERT_TYPES.find((t) => t.id === id);
