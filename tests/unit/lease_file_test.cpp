#include "lease_file.h"

#include <gtest/gtest.h>

#include <string>

namespace tripline {
namespace {

constexpr int64_t kNow = 1795000000;  // 2026-11-18 11:06:40 UTC

std::string name_of(const LeaseParse& p, const char* addr) {
  for (const Lease& l : p.leases)
    if (l.addr == *IpAddr::parse(addr)) return l.name;
  return "<none>";
}

MacAddr mac_of(const LeaseParse& p, const char* addr) {
  for (const Lease& l : p.leases)
    if (l.addr == *IpAddr::parse(addr)) return l.mac;
  return {};
}

// As dnsmasq 2.89 writes /var/lib/misc/dnsmasq.leases (dual stack).
TEST(LeaseFile, Dnsmasq) {
  const char* text =
      "1795003600 52:54:00:12:34:56 192.168.1.23 laptop 01:52:54:00:12:34:56\n"
      "1795003000 a4:83:e7:0b:1c:2d 192.168.1.24 * *\n"
      "0 02:42:ac:11:00:02 192.168.1.25 printer *\n"
      "1794990000 02:42:ac:11:00:03 192.168.1.26 gone *\n"
      "1795003600 1d:00:00:00:00:01:02:03 192.168.1.27 ib-host ff:00:00:00:00:00:02\n"
      "duid 00:01:00:01:2c:5f:1e:a0:52:54:00:aa:bb:cc\n"
      "1795003600 1385567286 fd00::23 laptop "
      "00:04:8e:2a:5c:b1:0a:6b:cf:93:71:61:4a:b5:7c:28:2e:aa\n";
  LeaseParse p = parse_leases(text, kNow);
  EXPECT_EQ(p.format, LeaseFormat::Dnsmasq);
  EXPECT_EQ(p.malformed, 0u);
  ASSERT_EQ(p.leases.size(), 4u);  // .24 has no name, .26 expired
  EXPECT_EQ(name_of(p, "192.168.1.23"), "laptop");
  EXPECT_EQ(mac_of(p, "192.168.1.23"), *MacAddr::parse("52:54:00:12:34:56"));
  EXPECT_EQ(name_of(p, "192.168.1.25"), "printer");  // expiry 0: infinite
  EXPECT_EQ(name_of(p, "192.168.1.26"), "<none>");
  EXPECT_EQ(name_of(p, "192.168.1.27"), "ib-host");  // not Ethernet: by address only
  EXPECT_FALSE(mac_of(p, "192.168.1.27").known());
  EXPECT_EQ(name_of(p, "fd00::23"), "laptop");  // IPv6: an IAID, not a MAC
  EXPECT_FALSE(mac_of(p, "fd00::23").known());
  EXPECT_EQ(p.inactive, 1u);
}

TEST(LeaseFile, DnsmasqMalformedLinesAreCountedAndSkipped) {
  const char* text =
      "1795003600 52:54:00:12:34:56 192.168.1.23 laptop *\n"
      "garbage\n"
      "1795003600 52:54:00:12:34:57 192.168.1.999 bad *\n"
      "1795003600 52:54:00:12:34:58 192.168.1.30 \"evil\\x1b[31m\" *\n"
      "1795003600 52:54:00:12:34:59 192.168.1.31 phone *\n";
  LeaseParse p = parse_leases(text, kNow);
  EXPECT_EQ(p.format, LeaseFormat::Dnsmasq);
  EXPECT_EQ(p.malformed, 2u);
  EXPECT_EQ(p.first_malformed, 2u);
  EXPECT_EQ(p.invalid_names, 1u);
  ASSERT_EQ(p.leases.size(), 2u);
  EXPECT_EQ(name_of(p, "192.168.1.31"), "phone");
}

TEST(LeaseFile, EmptyFileIsAnEmptyDnsmasqFile) {
  LeaseParse p = parse_leases("", kNow);
  EXPECT_EQ(p.format, LeaseFormat::Dnsmasq);
  EXPECT_TRUE(p.leases.empty());
  EXPECT_EQ(p.malformed, 0u);
}

// As ISC dhcpd 4.4 writes /var/lib/dhcp/dhcpd.leases: appended blocks, the
// last one for an address wins.
TEST(LeaseFile, IscDhcpd) {
  const char* text = R"(# The format of this file is documented in the dhcpd.leases(5) manual page.
# This lease file was written by isc-dhcp-4.4.3-P1

# authoring-byte-order entry is generated, DO NOT DELETE
authoring-byte-order little-endian;

server-duid "\000\001\000\001,\177b\365RT\000\022\064V";

lease 192.168.1.50 {
  starts 2 2026/11/18 10:00:00;
  ends 2 2026/11/18 22:00:00;
  cltt 2 2026/11/18 10:00:00;
  binding state active;
  next binding state free;
  rewind binding state free;
  hardware ethernet 52:54:00:aa:bb:01;
  uid "\001RT\000\252\273\001";
  client-hostname "desktop";
}
lease 192.168.1.51 {
  starts 2 2026/11/18 10:00:00;
  ends 2 2026/11/18 22:00:00;
  binding state active;
  hardware ethernet 52:54:00:aa:bb:02;
  client-hostname "tv";
}
lease 192.168.1.51 {
  starts 2 2026/11/18 11:00:00;
  ends 2 2026/11/18 11:05:00;
  tstp 2 2026/11/18 11:05:00;
  binding state free;
  hardware ethernet 52:54:00:aa:bb:02;
}
lease 192.168.1.52 {
  starts 1 2026/11/17 10:00:00;
  ends 1 2026/11/17 12:00:00;
  binding state active;
  hardware ethernet 52:54:00:aa:bb:03;
  client-hostname "old";
}
lease 192.168.1.53 {
  starts 2 2026/11/18 10:00:00;
  ends never;
  binding state active;
  hardware ethernet 52:54:00:aa:bb:04;
  client-hostname "nas";
  set vendor-class-identifier = "udhcp 1.36.1";
}
host static-1 {
  dynamic;
  hardware ethernet 52:54:00:aa:bb:05;
  fixed-address 192.168.1.9;
}
)";
  LeaseParse p = parse_leases(text, kNow);
  EXPECT_EQ(p.format, LeaseFormat::IscDhcpd);
  EXPECT_EQ(p.malformed, 0u);
  ASSERT_EQ(p.leases.size(), 2u);
  EXPECT_EQ(name_of(p, "192.168.1.50"), "desktop");
  EXPECT_EQ(mac_of(p, "192.168.1.50"), *MacAddr::parse("52:54:00:aa:bb:01"));
  EXPECT_EQ(name_of(p, "192.168.1.51"), "<none>");  // freed later
  EXPECT_EQ(name_of(p, "192.168.1.52"), "<none>");  // ended yesterday
  EXPECT_EQ(name_of(p, "192.168.1.53"), "nas");
}

TEST(LeaseFile, IscDhcpdCutShortOrBroken) {
  const char* text =
      "lease 192.168.1.60 {\n"
      "  ends 2 2026/13/17 22:00:00;\n"  // no month 13
      "  binding state active;\n"
      "  client-hostname \"a\";\n"
      "}\n"
      "lease 192.168.1.61 {\n"
      "  binding state active;\n"
      "  client-hostname \"b\";\n"
      "}\n"
      "lease 192.168.1.62 {\n"
      "  binding state active;\n"
      "  client-hostname \"c\"";  // a write in progress
  LeaseParse p = parse_leases(text, kNow);
  EXPECT_EQ(p.format, LeaseFormat::IscDhcpd);
  EXPECT_EQ(p.malformed, 2u);
  EXPECT_EQ(p.first_malformed, 1u);
  ASSERT_EQ(p.leases.size(), 1u);
  EXPECT_EQ(name_of(p, "192.168.1.61"), "b");
}

// As Kea 2.2 memfile writes kea-leases4.csv and kea-leases6.csv.
TEST(LeaseFile, KeaV4) {
  const char* text =
      "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,"
      "user_context\n"
      "192.168.1.70,52:54:00:cc:dd:01,01:52:54:00:cc:dd:01,3600,1795003600,1,0,0,kitchen-pad,0,\n"
      "192.168.1.71,52:54:00:cc:dd:02,,3600,1795003600,1,1,1,work.example.org.,0,\n"
      "192.168.1.72,52:54:00:cc:dd:03,,3600,1795003600,1,0,0,declined,1,\n"
      "192.168.1.73,52:54:00:cc:dd:04,,3600,1794000000,1,0,0,expired,0,\n"
      "192.168.1.74,52:54:00:cc:dd:05,,3600,1795003600,1,0,0,a&#x2cb,0,\n"
      "192.168.1.70,52:54:00:cc:dd:01,,0,1795000000,1,0,0,,0,\n"  // released
      "192.168.1.75,52:54:00:cc:dd:06,,3600,1795003600,1,0,0,speaker,0,\n";
  LeaseParse p = parse_leases(text, kNow);
  EXPECT_EQ(p.format, LeaseFormat::Kea);
  EXPECT_EQ(p.malformed, 0u);
  EXPECT_EQ(name_of(p, "192.168.1.70"), "<none>");
  EXPECT_EQ(name_of(p, "192.168.1.71"), "work.example.org");
  EXPECT_EQ(name_of(p, "192.168.1.72"), "<none>");
  EXPECT_EQ(name_of(p, "192.168.1.73"), "<none>");
  EXPECT_EQ(name_of(p, "192.168.1.74"), "<none>");  // "a,b" is no host name
  EXPECT_EQ(p.invalid_names, 1u);
  EXPECT_EQ(name_of(p, "192.168.1.75"), "speaker");
  EXPECT_EQ(mac_of(p, "192.168.1.75"), *MacAddr::parse("52:54:00:cc:dd:06"));
  EXPECT_EQ(p.leases.size(), 2u);
}

TEST(LeaseFile, KeaV6) {
  const char* text =
      "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,"
      "fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source\n"
      "fd00::1:70,00:03:00:01:52:54:00:cc:dd:01,3600,1795003600,1,3000,0,1,128,0,0,kitchen-pad,"
      "52:54:00:cc:dd:01,0,,1,2\n"
      "fd00::1:71,00:03:00:01:52:54:00:cc:dd:02,3600,1795003600,1,3000,0,1,128,0,0,phone,,0,,1,0\n"
      "fd00::1:72,00:03:00:01:52:54:00:cc:dd:02,3600,1795003600,1\n";  // short row
  LeaseParse p = parse_leases(text, kNow);
  EXPECT_EQ(p.format, LeaseFormat::Kea);
  EXPECT_EQ(p.malformed, 1u);
  EXPECT_EQ(p.first_malformed, 4u);
  EXPECT_EQ(name_of(p, "fd00::1:70"), "kitchen-pad");
  EXPECT_EQ(mac_of(p, "fd00::1:70"), *MacAddr::parse("52:54:00:cc:dd:01"));
  EXPECT_EQ(name_of(p, "fd00::1:71"), "phone");
  EXPECT_FALSE(mac_of(p, "fd00::1:71").known());
}

TEST(LeaseFile, UnknownFormat) {
  LeaseParse p = parse_leases("<html>not a lease file</html>\n", kNow);
  EXPECT_EQ(p.format, LeaseFormat::Unknown);
  EXPECT_TRUE(p.leases.empty());
  EXPECT_EQ(p.malformed, 1u);
  EXPECT_EQ(parse_leases("address,nothing,else\n1,2,3\n", kNow).malformed, 1u);
}

TEST(LeaseFile, LimitBoundsTheLeasesKept) {
  std::string text;
  for (int i = 1; i <= 10; ++i)
    text += "0 52:54:00:00:00:0" + std::to_string(i % 10) + " 10.0.0." + std::to_string(i) + " h" +
            std::to_string(i) + " *\n";
  LeaseParse p = parse_leases(text, kNow, 4);
  EXPECT_EQ(p.leases.size(), 4u);
  EXPECT_EQ(p.over_limit, 6u);
}

TEST(LeaseFile, ValidNames) {
  EXPECT_TRUE(valid_lease_name("my-laptop_2.lan"));
  EXPECT_FALSE(valid_lease_name(""));
  EXPECT_FALSE(valid_lease_name("a b"));
  EXPECT_FALSE(valid_lease_name("\"x\""));
  EXPECT_FALSE(valid_lease_name(std::string(254, 'a')));
}

}  // namespace
}  // namespace tripline
