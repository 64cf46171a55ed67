

export interface World {
  lotId: string;
  bookingId: string;
  otherBookingId: string;
  userId: string;
  adminId: string;
  otherUserId: string;
  userToken: string;
  adminToken: string;
}
