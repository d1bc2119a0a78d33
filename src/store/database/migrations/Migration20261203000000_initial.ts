import { Migration } from '@mikro-orm/migrations';

const TABLES = ['coupons', 'users', 'user_coupons'];

/**
 * The schema as the entities define it (src/store/database/entities.ts), written out as MikroORM
 * generates it for MariaDB 10.11 and MySQL 8.
 *
 * Before migrations, every process ran `schema.update()` at start, so a database that already
 * served has exactly these tables without a record of this migration. It is not created again:
 * when all three tables exist this migration does nothing and is recorded as applied (the database
 * test asserts that no difference from the entities remains); when only some exist, the database
 * is in a state no version of this project left, and it stops rather than guess.
 */
export class Migration20261203000000_initial extends Migration {
  override async up(): Promise<void> {
    const rows = await this.execute(
      `select table_name as t from information_schema.tables where table_schema = database() and table_name in (${TABLES.map(() => '?').join(', ')})`,
      TABLES,
    );
    if (rows.length === TABLES.length) return;
    if (rows.length > 0) {
      const found = rows
        .map((r) => String(r.t))
        .sort()
        .join(', ');
      throw new Error(
        `the database has some of the tables (${found}) but not all of ${TABLES.join(', ')}: repair it by hand, then migrate`,
      );
    }

    this.addSql(
      'create table `coupons` (`id` int unsigned not null auto_increment primary key, `name` varchar(200) not null, `total_quantity` int not null, `issued_count` int not null default 0, `starts_at` datetime null, `ends_at` datetime null, `created_at` datetime not null) default character set utf8mb4 engine = InnoDB;',
    );

    this.addSql(
      'create table `users` (`id` int unsigned not null auto_increment primary key, `public_id` varchar(36) not null, `name` varchar(100) not null, `created_at` datetime not null) default character set utf8mb4 engine = InnoDB;',
    );
    this.addSql('alter table `users` add unique `users_public_id_unique` (`public_id`);');

    this.addSql(
      'create table `user_coupons` (`id` int unsigned not null auto_increment primary key, `coupon_id` int unsigned not null, `user_id` int unsigned not null, `event_id` varchar(36) not null, `issued_at` datetime not null) default character set utf8mb4 engine = InnoDB;',
    );
    this.addSql('alter table `user_coupons` add index `user_coupons_coupon_id_index` (`coupon_id`);');
    this.addSql('alter table `user_coupons` add index `user_coupons_user_id_index` (`user_id`);');
    this.addSql('alter table `user_coupons` add unique `user_coupons_event_id_unique` (`event_id`);');
    // The last line of defence against a double issue: a replayed message inserts nothing.
    this.addSql('alter table `user_coupons` add unique `user_coupons_coupon_user_unique` (`coupon_id`, `user_id`);');

    this.addSql(
      'alter table `user_coupons` add constraint `user_coupons_coupon_id_foreign` foreign key (`coupon_id`) references `coupons` (`id`);',
    );
    this.addSql(
      'alter table `user_coupons` add constraint `user_coupons_user_id_foreign` foreign key (`user_id`) references `users` (`id`);',
    );
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists `user_coupons`;');
    this.addSql('drop table if exists `users`;');
    this.addSql('drop table if exists `coupons`;');
  }
}
