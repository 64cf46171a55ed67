import { ValidationError } from '../../platform/errors.js';
import type { CreateBookingInput } from '../../contract/contract.js';
import type { CreateBookingCommand } from './types.js';

/** From the validated client input to the service's command. "Now" is left to the database's clock. */
export function toCreateCommand(input: CreateBookingInput): CreateBookingCommand {
  const starts = input.starts_at ? new Date(input.starts_at) : undefined;
  const ends = input.ends_at ? new Date(input.ends_at) : undefined;
  if (starts && ends && !(ends > starts)) throw new ValidationError('ends_at must be after starts_at');
  return {
    parking_lot_id: input.parking_lot_id,
    ...(starts ? { starts_at: starts } : {}),
    ...(ends ? { ends_at: ends } : {}),
    ...(input.duration_minutes ? { duration_minutes: input.duration_minutes } : {}),
    ...(input.idempotency_key ? { idempotency_key: input.idempotency_key } : {}),
    ...(input.vehicle_plate ? { vehicle_plate: input.vehicle_plate } : {}),
  };
}
