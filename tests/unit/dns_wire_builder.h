// Test helper: DNS messages in wire format built with ldns (an independent
// encoder), from a question and resource records in zone-file text such as
// "www.example.com. 300 IN A 192.0.2.1".
#pragma once

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <vector>

namespace tripline::test {

inline std::vector<uint8_t> build_dns(const char* qname, ldns_rr_type qtype,
                                      std::initializer_list<const char*> answers,
                                      bool response = true, uint16_t id = 0x1234,
                                      std::initializer_list<const char*> additional = {}) {
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_pkt_query_new_frm_str(&p, qname, qtype, LDNS_RR_CLASS_IN, LDNS_RD),
            LDNS_STATUS_OK);
  ldns_pkt_set_id(p, id);
  ldns_pkt_set_qr(p, response);
  if (response) ldns_pkt_set_ra(p, true);
  auto push = [&](std::initializer_list<const char*> rrs, ldns_pkt_section section) {
    for (const char* text : rrs) {
      ldns_rr* rr = nullptr;
      EXPECT_EQ(ldns_rr_new_frm_str(&rr, text, 0, nullptr, nullptr), LDNS_STATUS_OK) << text;
      ldns_pkt_push_rr(p, section, rr);
    }
  };
  push(answers, LDNS_SECTION_ANSWER);
  push(additional, LDNS_SECTION_ADDITIONAL);
  uint8_t* wire = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, p, &size), LDNS_STATUS_OK);
  std::vector<uint8_t> out(wire, wire + size);
  std::free(wire);
  ldns_pkt_free(p);
  return out;
}

}  // namespace tripline::test
