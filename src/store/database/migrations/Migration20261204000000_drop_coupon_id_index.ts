import { Migration } from '@mikro-orm/migrations';

/**
 * Drops user_coupons' index on coupon_id alone: the unique key on (coupon_id, user_id) starts with
 * the same column, so it serves the foreign key and the per-coupon queries, and the consumer's
 * inserts of a backlog were a third slower for keeping both.
 */
export class Migration20261204000000_drop_coupon_id_index extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table `user_coupons` drop index `user_coupons_coupon_id_index`;');
  }

  override async down(): Promise<void> {
    this.addSql('alter table `user_coupons` add index `user_coupons_coupon_id_index` (`coupon_id`);');
  }
}
